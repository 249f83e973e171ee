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
public sealed record CandidateChoice(string? Chosen, IReadOnlyList<CandidateAssessment> Assessments)
{
    /// <summary>The primary's last known position the candidates were judged against (null: none known); FailoverStarted records it.</summary>
    public Lsn? ReferenceLsn { get; init; }
}

/// <summary>
/// DESIGN §5's candidate rule, pure: a candidate is a healthy, attached replica without nofailover,
/// with a fresh report, and either a synchronous standby (synchronous mode) or within
/// maximum_lag_on_failover of the primary's last known position (async). Among candidates the highest
/// received LSN wins, then the higher failover_priority, then the name. Every other member is returned
/// with the reason it was not chosen, as a <see cref="CandidateRejection"/> (what decisions read) and a
/// sentence (what FailoverStarted records and `pgha explain` shows).
/// </summary>
public static class FailoverPolicy
{
    /// <summary>
    /// True when <paramref name="rejection"/> only says the node may lack acknowledged commits (behind, or not
    /// known to be a synchronous standby with all of them): an operator may accept that with --allow-data-loss.
    /// </summary>
    public static bool MayOnlyLackCommits(CandidateRejection rejection) => rejection is CandidateRejection.BehindCandidate
        or CandidateRejection.LagOverMaximum or CandidateRejection.NotSynchronous or CandidateRejection.NoSynchronousStandby
        or CandidateRejection.TooFewSynchronousStandbys;

    /// <summary>True when <paramref name="rejection"/> only says another candidate with the same LSN ranked first (priority, name): as good a choice, nothing is lost.</summary>
    public static bool OnlyRankedLower(CandidateRejection rejection) => rejection is CandidateRejection.LowerPriority or CandidateRejection.LaterByName;

    public static CandidateChoice ChooseCandidate(ClusterState state, IReadOnlyDictionary<string, NodeReport> reports, Lsn? primaryLastKnown, FailoverSettings settings, DateTimeOffset now)
    {
        var rejected = new Dictionary<string, (CandidateRejection Kind, string Reason)>(StringComparer.Ordinal);
        var eligible = new List<(NodeView Node, NodeReport Report, Lsn Received)>();
        foreach (var node in state.Nodes.Values)
        {
            reports.TryGetValue(node.Name, out var report);
            if (Ineligible(state, node, report, primaryLastKnown, settings, now) is { } reason) rejected[node.Name] = reason;
            else eligible.Add((node, report!, report!.ReceivedLsn ?? report.ReplayedLsn ?? Lsn.Zero));
        }

        if (state.SynchronousMode != SynchronousMode.Off && eligible.Count > 0)
        {
            // ANY k of n: only with n - k + 1 of them in view is the most advanced sure to have every acknowledged commit.
            var quorum = new SyncQuorum(state.SynchronousNodeCount, state.SynchronousStandbys);
            if (eligible.Count < quorum.NeededToFindEveryCommit)
            {
                foreach (var (node, _, _) in eligible)
                    rejected[node.Name] = (CandidateRejection.TooFewSynchronousStandbys, $"only {eligible.Count} of the synchronous standbys ({string.Join(", ", quorum.Standbys)}, {quorum.Acks} acknowledge each commit) can be assessed; {quorum.NeededToFindEveryCommit} are needed to be sure to find every acknowledged commit");
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
                other.Received < best.Received ? (CandidateRejection.BehindCandidate, $"received LSN {other.Received} is behind {best.Node.Name}'s {best.Received}")
                : other.Node.FailoverPriority < best.Node.FailoverPriority ? (CandidateRejection.LowerPriority, $"same received LSN as {best.Node.Name} but lower failover_priority ({other.Node.FailoverPriority} < {best.Node.FailoverPriority})")
                : (CandidateRejection.LaterByName, $"same received LSN and failover_priority as {best.Node.Name}, which comes first by name");
        }

        var assessments = state.Nodes.Values.Select(n =>
        {
            reports.TryGetValue(n.Name, out var report);
            var received = report?.ReceivedLsn ?? report?.ReplayedLsn;
            long? lag = primaryLastKnown is { } p && received is { } r ? Lsn.BytesBehind(p, r) : null;
            return rejected.TryGetValue(n.Name, out var rejection)
                ? new CandidateAssessment(n.Name, received?.ToString(), lag, n.FailoverPriority, rejection.Reason) { Rejection = rejection.Kind }
                : new CandidateAssessment(n.Name, received?.ToString(), lag, n.FailoverPriority, null);
        }).ToList();
        return new CandidateChoice(best.Node?.Name, assessments) { ReferenceLsn = primaryLastKnown };
    }

    private static (CandidateRejection Kind, string Reason)? Ineligible(ClusterState state, NodeView node, NodeReport? report, Lsn? primaryLastKnown, FailoverSettings settings, DateTimeOffset now)
    {
        if (node.Name == state.Primary) return (CandidateRejection.OldPrimary, "it is the primary being replaced");
        if (node.Detached) return (CandidateRejection.Detached, $"detached for maintenance ({node.DetachedReason})");
        if (node.NoFailover) return (CandidateRejection.NoFailover, "nofailover is set");
        if (node.Role != NodeRole.Replica) return (CandidateRejection.NotReplica, $"its role is {node.Role}, not a replica");
        if (report is null) return (CandidateRejection.NoReport, "no report from its agent");
        var age = now - report.ReportedAt;
        if (age > settings.ReportFreshness) return (CandidateRejection.StaleReport, $"its last report is {age.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s old (fresher than {settings.ReportFreshness.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s needed)");
        if (report.Health != NodeHealth.Healthy) return (CandidateRejection.Unhealthy, $"its health is {report.Health}");
        if (!report.InRecovery) return (CandidateRejection.NotInRecovery, "it is not in recovery (not a standby)");
        if (state.SynchronousMode != SynchronousMode.Off)
        {
            if (state.SynchronousNodeCount <= 0 || state.SynchronousStandbys.Count == 0)
                return (CandidateRejection.NoSynchronousStandby, $"no synchronous standby is recorded (synchronous_mode {state.SynchronousMode.ToString().ToLowerInvariant()}): none is known to have every acknowledged commit");
            return state.SynchronousStandbys.Contains(node.Name)
                ? null
                : (CandidateRejection.NotSynchronous, $"not a synchronous standby (synchronous_mode {state.SynchronousMode.ToString().ToLowerInvariant()}, standbys {string.Join(", ", state.SynchronousStandbys)}): only a node with every acknowledged commit may be promoted");
        }
        var received = report.ReceivedLsn ?? report.ReplayedLsn;
        if (received is null) return (CandidateRejection.NoReceivedLsn, "it reported no received LSN");
        if (primaryLastKnown is { } primary && Lsn.BytesBehind(primary, received.Value) > settings.MaximumLagOnFailover)
            return (CandidateRejection.LagOverMaximum, $"lag {Lsn.BytesBehind(primary, received.Value)} bytes behind the primary's last known {primary} exceeds maximum_lag_on_failover ({settings.MaximumLagOnFailover})");
        return null;
    }
}
