using System.Globalization;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Core.Failover;

/// <summary>What a node's agent last reported of its PostgreSQL, as the coordinator sees it over gossip.</summary>
public sealed record NodeReport(string Node, NodeHealth Health, bool InRecovery, Lsn? ReceivedLsn, Lsn? ReplayedLsn, DateTimeOffset ReportedAt);

/// <summary>The failover settings the candidate choice depends on.</summary>
public sealed record FailoverSettings
{
    /// <summary>maximum_lag_on_failover (async mode): a candidate further behind the primary's last known position is refused. Default 1 MiB, as Patroni's.</summary>
    public long MaximumLagOnFailover { get; init; } = 1024 * 1024;

    /// <summary>A report older than this says nothing about the node now.</summary>
    public TimeSpan ReportFreshness { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The candidate chosen (null when none qualifies) and how every member fared.</summary>
public sealed record CandidateChoice(string? Chosen, IReadOnlyList<CandidateAssessment> Assessments);

/// <summary>
/// DESIGN §5's candidate rule, pure: a candidate is a healthy, attached replica without nofailover,
/// with a fresh report, and either a synchronous standby (synchronous mode) or within
/// maximum_lag_on_failover of the primary's last known position (async). Among candidates the highest
/// received LSN wins, then the higher failover_priority, then the name. Every other member is returned
/// with the reason it was not chosen — what FailoverStarted records and `pgha explain` shows.
/// </summary>
public static class FailoverPolicy
{
    /// <summary>How the reasons start that only synchronous mode gives (a manual failover may override them with data loss allowed).</summary>
    public const string NotSynchronous = "not a synchronous standby";
    public const string NoSynchronousStandby = "no synchronous standby is recorded";

    /// <summary>True when <paramref name="reason"/> only says the node may lack acknowledged commits (behind, or not a synchronous standby).</summary>
    public static bool OnlyMayLackCommits(string reason) =>
        reason.StartsWith("received LSN", StringComparison.Ordinal) || reason.StartsWith("lag ", StringComparison.Ordinal)
        || reason.StartsWith(NotSynchronous, StringComparison.Ordinal) || reason.StartsWith(NoSynchronousStandby, StringComparison.Ordinal)
        || reason.StartsWith("only ", StringComparison.Ordinal);

    public static CandidateChoice ChooseCandidate(ClusterState state, IReadOnlyDictionary<string, NodeReport> reports, Lsn? primaryLastKnown, FailoverSettings settings, DateTimeOffset now)
    {
        var rejected = new Dictionary<string, string>(StringComparer.Ordinal);
        var eligible = new List<(NodeView Node, NodeReport Report, Lsn Received)>();
        foreach (var node in state.Nodes.Values)
        {
            reports.TryGetValue(node.Name, out var report);
            var reason = Ineligible(state, node, report, primaryLastKnown, settings, now);
            if (reason is null) eligible.Add((node, report!, report!.ReceivedLsn ?? report.ReplayedLsn ?? Lsn.Zero));
            else rejected[node.Name] = reason;
        }

        if (state.SynchronousMode != SynchronousMode.Off && eligible.Count > 0)
        {
            // ANY k of n: only with n - k + 1 of them in view is the most advanced sure to have every acknowledged commit.
            var quorum = new SyncQuorum(state.SynchronousNodeCount, state.SynchronousStandbys);
            if (eligible.Count < quorum.NeededToFindEveryCommit)
            {
                foreach (var (node, _, _) in eligible)
                    rejected[node.Name] = $"only {eligible.Count} of the synchronous standbys ({string.Join(", ", quorum.Standbys)}, {quorum.Acks} acknowledge each commit) can be assessed; {quorum.NeededToFindEveryCommit} are needed to be sure to find every acknowledged commit";
                eligible.Clear();
            }
        }

        var ranked = eligible
            .OrderByDescending(c => c.Received)
            .ThenByDescending(c => c.Node.FailoverPriority)
            .ThenBy(c => c.Node.Name, StringComparer.Ordinal)
            .ToList();
        var best = ranked.FirstOrDefault();
        foreach (var other in ranked.Skip(1))
        {
            rejected[other.Node.Name] =
                other.Received < best.Received ? $"received LSN {other.Received} is behind {best.Node.Name}'s {best.Received}"
                : other.Node.FailoverPriority < best.Node.FailoverPriority ? $"same received LSN as {best.Node.Name} but lower failover_priority ({other.Node.FailoverPriority} < {best.Node.FailoverPriority})"
                : $"same received LSN and failover_priority as {best.Node.Name}, which comes first by name";
        }

        var assessments = state.Nodes.Values.Select(n =>
        {
            reports.TryGetValue(n.Name, out var report);
            var received = report?.ReceivedLsn ?? report?.ReplayedLsn;
            long? lag = primaryLastKnown is { } p && received is { } r ? Lsn.BytesBehind(p, r) : null;
            return new CandidateAssessment(n.Name, received?.ToString(), lag, n.FailoverPriority, rejected.GetValueOrDefault(n.Name));
        }).ToList();
        return new CandidateChoice(best.Node?.Name, assessments);
    }

    private static string? Ineligible(ClusterState state, NodeView node, NodeReport? report, Lsn? primaryLastKnown, FailoverSettings settings, DateTimeOffset now)
    {
        if (node.Name == state.Primary) return "it is the primary being replaced";
        if (node.Detached) return $"detached for maintenance ({node.DetachedReason})";
        if (node.NoFailover) return "nofailover is set";
        if (node.Role != NodeRole.Replica) return $"its role is {node.Role}, not a replica";
        if (report is null) return "no report from its agent";
        var age = now - report.ReportedAt;
        if (age > settings.ReportFreshness) return $"its last report is {age.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s old (fresher than {settings.ReportFreshness.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s needed)";
        if (report.Health != NodeHealth.Healthy) return $"its health is {report.Health}";
        if (!report.InRecovery) return "it is not in recovery (not a standby)";
        if (state.SynchronousMode != SynchronousMode.Off)
        {
            if (state.SynchronousNodeCount <= 0 || state.SynchronousStandbys.Count == 0)
                return $"{NoSynchronousStandby} (synchronous_mode {state.SynchronousMode.ToString().ToLowerInvariant()}): none is known to have every acknowledged commit";
            return state.SynchronousStandbys.Contains(node.Name)
                ? null
                : $"{NotSynchronous} (synchronous_mode {state.SynchronousMode.ToString().ToLowerInvariant()}, standbys {string.Join(", ", state.SynchronousStandbys)}): only a node with every acknowledged commit may be promoted";
        }
        var received = report.ReceivedLsn ?? report.ReplayedLsn;
        if (received is null) return "it reported no received LSN";
        if (primaryLastKnown is { } primary && Lsn.BytesBehind(primary, received.Value) > settings.MaximumLagOnFailover)
            return $"lag {Lsn.BytesBehind(primary, received.Value)} bytes behind the primary's last known {primary} exceeds maximum_lag_on_failover ({settings.MaximumLagOnFailover})";
        return null;
    }
}
