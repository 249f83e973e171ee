using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.State;

namespace HA.Core.Parameters;

/// <summary>What a member's fresh heartbeat says of its PostgreSQL (a member without a fresh heartbeat has none).</summary>
public sealed record MemberReport(bool Running, bool InRecovery, string? Upstream);

/// <summary>
/// The coordinator's decisions about cluster-wide parameters, as a pure function of the log and the
/// members' reports (run in its housekeeping, with the primary healthy):
/// <list type="bullet">
/// <item>every attached member whose agent reported an older parameters version than the cluster's gets
/// APPLY_CONFIG with the whole desired set (ALTER SYSTEM, reload; its answer says what is pending a
/// restart) — when its PostgreSQL runs, it is healthy and busy with no other directive; after a failed
/// attempt it waits (5 s, doubling up to 5 min);</item>
/// <item>a rolling restart (<see cref="RollingRestartRequested"/>) restarts the replicas that have
/// parameters pending restart one at a time, each once the previous streams from the primary again;
/// then switches the primary over to a restarted replica (DEMOTE restarts the old primary) and asks
/// it what is still pending; it completes when no member reports anything pending.</item>
/// </list>
/// </summary>
public static class ParameterRollout
{
    /// <summary>How long RESTART of a replica may take (a fast stop, then a start that may replay WAL).</summary>
    public static readonly TimeSpan RestartTimeout = TimeSpan.FromMinutes(5);

    /// <summary>How long a node waits after <paramref name="failures"/> failed APPLY_CONFIG in a row.</summary>
    public static TimeSpan Backoff(int failures) =>
        failures <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(300, 5 * Math.Pow(2, Math.Min(failures, 10) - 1)));

    /// <summary>The events to append (with why), a reason to wait, or null when there is nothing to do about parameters.</summary>
    public static Decision? Next(ClusterState state, IReadOnlyDictionary<string, MemberReport> fresh, CoordinatorContext context) =>
        Apply(state, fresh, context) ?? (state.RollingRestart is null ? null : RollingRestart(state, fresh, context));

    private static Decision? Apply(ClusterState state, IReadOnlyDictionary<string, MemberReport> fresh, CoordinatorContext context)
    {
        if (state.ParametersVersion == 0) return null;
        var busy = state.PendingDirectives.Values.Select(d => d.Node).ToHashSet(StringComparer.Ordinal);
        var events = new List<ClusterEvent>();
        foreach (var node in state.Nodes.Values)
        {
            if (node.ParametersVersion >= state.ParametersVersion || node.Detached || node.Role is not (NodeRole.Primary or NodeRole.Replica)) continue;
            if (node.Health != NodeHealth.Healthy || fresh.GetValueOrDefault(node.Name) is not { Running: true } || busy.Contains(node.Name)) continue;
            if (node.ParametersFailedAt is { } failed && context.Now < failed + Backoff(node.ParametersFailures)) continue;
            events.Add(context.Issue(node.Name, state.Term, ParameterDirective.CorrelationFor(state.ParametersVersion), ParameterDirective.For(state)));
        }
        if (events.Count == 0) return null;
        var nodes = string.Join(", ", events.OfType<DirectiveIssued>().Select(d => d.Node));
        return new Decision($"applying parameters version {state.ParametersVersion} on {nodes}", events);
    }

    private static Decision RollingRestart(ClusterState state, IReadOnlyDictionary<string, MemberReport> fresh, CoordinatorContext context)
    {
        var rolling = state.RollingRestart!;
        var by = Initiator.Coordinator(context.Node);
        Decision Failed(string reason) => new($"rolling restart {rolling.Id} failed: {reason}",
            [new RollingRestartFailed(rolling.Id, reason) { By = by, CorrelationId = rolling.Id }]);
        bool Streaming(string node) => fresh.GetValueOrDefault(node) is { Running: true, InRecovery: true } report && report.Upstream == state.Primary
            && state.Nodes.TryGetValue(node, out var view) && view.Health == NodeHealth.Healthy && view.Role == NodeRole.Replica;

        if (state.Paused) return Decision.Wait($"rolling restart {rolling.Id} waits: cluster {state.Cluster} is paused ({state.PausedReason})");
        var primary = state.Primary!;
        var attached = state.Nodes.Values.Where(n => !n.Detached).ToList();
        if (attached.FirstOrDefault(n => n.ParametersVersion < state.ParametersVersion) is { } behind)
            return Decision.Wait($"rolling restart {rolling.Id} waits until {behind.Name} applies parameters version {state.ParametersVersion}");

        if (rolling.Directive is { } directive)
        {
            var what = $"{rolling.Kind.ToString()!.ToUpperInvariant()} of {rolling.Node}";
            if (rolling.Outcome is null)
                return state.PendingDirectives.TryGetValue(directive, out var pending) && pending.ExpiresAt > context.Now
                    ? Decision.Wait($"rolling restart {rolling.Id}: waiting for {what}")
                    : Failed($"{what} expired without an answer");
            if (rolling.Outcome != "succeeded") return Failed($"{what} {rolling.Outcome}");
            if (rolling.Kind == DirectiveKind.Restart && rolling.Node != primary && !Streaming(rolling.Node!))
                return Decision.Wait($"rolling restart {rolling.Id}: waiting for {rolling.Node} to stream from {primary} again after its restart");
        }

        var next = attached
            .Where(n => n.Name != primary && n.Name != rolling.SwitchoverFrom && n.Role == NodeRole.Replica && n.PendingRestart.Count > 0 && !rolling.Restarted.Contains(n.Name))
            .OrderBy(n => n.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        if (next is not null)
        {
            if (state.PendingDirectives.Values.Any(d => d.Node == next.Name)) return Decision.Wait($"rolling restart {rolling.Id}: waiting for {next.Name} to finish another directive");
            if (next.Health != NodeHealth.Healthy || fresh.GetValueOrDefault(next.Name) is not { Running: true, InRecovery: true })
                return Failed($"{next.Name} is not a running standby ({next.Health.ToString().ToLowerInvariant()}{(next.HealthReason is null ? "" : ": " + next.HealthReason)}); start the rolling restart again once it is back");
            return new Decision($"rolling restart {rolling.Id}: restarting {next.Name} for {string.Join(", ", next.PendingRestart)}",
                [context.Issue(next.Name, state.Term, rolling.Id, new Restart(next.ParametersVersion), RestartTimeout)]);
        }

        if (rolling.SwitchoverId is null)
        {
            var primaryView = state.Nodes[primary];
            if (primaryView.PendingRestart.Count > 0)
            {
                var target = attached
                    .Where(n => rolling.Restarted.Contains(n.Name) && !n.NoFailover && Streaming(n.Name))
                    .OrderByDescending(n => n.FailoverPriority).ThenBy(n => n.Name, StringComparer.Ordinal)
                    .FirstOrDefault();
                if (target is null)
                    return rolling.Restarted.Count > 0 && rolling.Restarted.Any(n => state.Nodes.TryGetValue(n, out var v) && !v.NoFailover && !v.Detached)
                        ? Decision.Wait($"rolling restart {rolling.Id}: waiting for a restarted replica to stream from {primary} before switching over")
                        : Failed($"the primary {primary} needs a restart for {string.Join(", ", primaryView.PendingRestart)} but no restarted replica can take over from it");
                var switchoverId = $"{rolling.Id}-switchover";
                return new Decision($"rolling restart {rolling.Id}: switching over from {primary} to the restarted {target.Name} (the demotion restarts {primary})",
                    [new SwitchoverRequested(switchoverId, primary, target.Name, null) { By = by, CorrelationId = rolling.Id }]);
            }
        }
        else
        {
            if (rolling.SwitchoverOutcome is null) return Decision.Wait($"rolling restart {rolling.Id}: waiting for switchover {rolling.SwitchoverId}");
            if (rolling.SwitchoverOutcome != "succeeded") return Failed($"switchover {rolling.SwitchoverId} {rolling.SwitchoverOutcome}");
            var demoted = rolling.SwitchoverFrom!;
            var refreshed = rolling.Kind == DirectiveKind.ApplyConfig && rolling.Node == demoted;
            if (!refreshed && state.Nodes.TryGetValue(demoted, out var old) && !old.Detached && old.PendingRestart.Count > 0)
            {
                // DEMOTE restarted it: ask it again what is pending, with the parameters it already has.
                if (!Streaming(demoted)) return Decision.Wait($"rolling restart {rolling.Id}: waiting for {demoted} to stream from {primary} after its demotion");
                if (state.PendingDirectives.Values.Any(d => d.Node == demoted)) return Decision.Wait($"rolling restart {rolling.Id}: waiting for {demoted} to finish another directive");
                return new Decision($"rolling restart {rolling.Id}: reading what {demoted} still has pending after its demotion",
                    [context.Issue(demoted, state.Term, rolling.Id, ParameterDirective.For(state))]);
            }
        }

        if (attached.Where(n => n.PendingRestart.Count > 0).ToList() is { Count: > 0 } still)
            return Failed($"{string.Join("; ", still.Select(n => $"{n.Name} still has {string.Join(", ", n.PendingRestart)} pending restart"))} after the rolling restart");
        List<string> restarted = [.. rolling.Restarted];
        if (rolling.SwitchoverFrom is { } from) restarted.Add(from);
        return new Decision($"rolling restart {rolling.Id} completed: {string.Join(", ", restarted)} restarted",
            [new RollingRestartCompleted(rolling.Id, restarted, context.Now - rolling.StartedAt) { By = by, CorrelationId = rolling.Id }]);
    }
}
