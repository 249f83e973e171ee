using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Core.Failover;

/// <summary>replication.synchronous_mode, synchronous_node_count and synchronous_mode_strict.</summary>
public sealed record SynchronousSettings
{
    public SynchronousMode Mode { get; init; } = SynchronousMode.Off;

    /// <summary>on: how many standbys acknowledge every commit; quorum: how many of all eligible standbys (ANY k).</summary>
    public int NodeCount { get; init; } = 1;

    /// <summary>With no eligible standby left, block writes ('*') rather than fall back to asynchronous ('').</summary>
    public bool Strict { get; init; }
}

/// <summary>A replica as synchronous replication sees it: streaming from the current primary or not, and how far it has flushed.</summary>
public sealed record StandbyReport(string Node, bool StreamingFromPrimary, Lsn? Flushed);

/// <summary>
/// How the coordinator manages synchronous_standby_names (DESIGN §3: no acknowledged write lost), as a
/// pure step function of the log and what the agents report. Two things move: what the primary waits
/// for (applied by its agent: <see cref="SynchronousStandbysApplied"/>) and which standbys the log says
/// may be promoted (<see cref="SynchronousStandbysChanged"/>). The order keeps the invariant "every
/// acknowledged commit is on enough of the logged standbys for the promotion rule to find it":
/// <list type="number">
/// <item>the logged set is narrowed first when the setting about to be applied would no longer cover it;</item>
/// <item>then the primary's setting is changed;</item>
/// <item>the logged set is widened last, once every standby it adds has flushed past the LSN at which the
/// new setting took effect (so it has every commit acknowledged before the change too).</item>
/// </list>
/// One step per call; null when there is nothing to do.
/// </summary>
public static class SynchronousSteps
{
    public static Decision? Next(ClusterState state, SynchronousSettings settings, IReadOnlyDictionary<string, StandbyReport> reports, CoordinatorContext context)
    {
        if (state.Primary is not { } primary || state.Failover is not null || state.Switchover is not null) return null;
        // One change of the primary's setting at a time (parameters share the directive kind).
        if (state.PendingDirectives.Values.Any(d => d.Node == primary && d.Kind == DirectiveKind.ApplyConfig)) return null;
        var by = Initiator.Coordinator(context.Node);
        var correlation = $"sync-{state.Version}";
        var applied = state.SynchronousApplied is { } a && a.Node == primary ? a : null;
        var logged = state.SynchronousMode == SynchronousMode.Off ? SyncQuorum.None : new SyncQuorum(state.SynchronousNodeCount, state.SynchronousStandbys);

        if (settings.Mode == SynchronousMode.Off)
        {
            if (state.SynchronousMode != SynchronousMode.Off)
                return Record(SynchronousMode.Off, SyncQuorum.None, "synchronous_mode is off: no standby is promised every commit any more", by, correlation);
            return applied?.Value == "" ? null : Apply(state, primary, "", "synchronous_mode is off: the primary stops waiting for standbys", context, correlation);
        }

        var eligible = state.Nodes.Values
            .Where(n => n.Name != primary && n.Role == NodeRole.Replica && !n.Detached && !n.NoFailover
                        && reports.TryGetValue(n.Name, out var r) && r.StreamingFromPrimary)
            .OrderByDescending(n => state.SynchronousStandbys.Contains(n.Name))
            .ThenByDescending(n => n.FailoverPriority)
            .ThenBy(n => n.Name, StringComparer.Ordinal)
            .Select(n => n.Name)
            .ToList();
        var count = Math.Max(1, settings.NodeCount);
        var target = settings.Mode == SynchronousMode.On
            ? new SyncQuorum(Math.Min(count, eligible.Count), [.. eligible.Take(count)])
            : new SyncQuorum(Math.Min(count, eligible.Count), eligible);
        if (target.IsEmpty) target = SyncQuorum.None;
        var value = SyncQuorum.Format(settings.Mode, target, settings.Strict);
        var wanted = SyncQuorum.Parse(value);
        var current = applied is null ? null : SyncQuorum.Parse(applied.Value);

        // 1. Narrow what the log promises before the primary waits for less (or for others).
        var mode = state.SynchronousMode;
        if (mode != SynchronousMode.Off && mode != settings.Mode)
            return Record(settings.Mode, SyncQuorum.None, $"synchronous_mode changes from {Name(mode)} to {Name(settings.Mode)}: standbys are recorded again as they qualify", by, correlation);
        if (!logged.IsCoveredBy(wanted) || !logged.IsCoveredBy(current))
        {
            var acks = logged.Acks;
            if (wanted is not null) acks = Math.Min(acks, wanted.Acks - wanted.Standbys.Count(s => !logged.Standbys.Contains(s)));
            if (current is not null) acks = Math.Min(acks, current.Acks - current.Standbys.Count(s => !logged.Standbys.Contains(s)));
            if (wanted is null || current is null) acks = 0;
            var narrowed = acks > 0 ? logged with { Acks = acks } : SyncQuorum.None;
            return Record(settings.Mode, narrowed,
                $"the primary is about to wait for {(wanted is null ? "any standby" : wanted.ToString())}: synchronous standbys narrowed from {logged} to {narrowed} first", by, correlation);
        }

        // 2. Then change what the primary waits for.
        if (applied?.Value != value)
        {
            var why = eligible.Count == 0
                ? settings.Strict ? "no standby qualifies: synchronous_mode_strict blocks writes until one is back ('*')" : "no standby qualifies: the primary no longer waits (asynchronous until one is back)"
                : $"standbys streaming from {primary}: {string.Join(", ", eligible)}";
            return Apply(state, primary, value, $"synchronous_standby_names on {primary} becomes '{value}' ({why})", context, correlation);
        }

        // 3. Widen what the log promises once the standbys it adds have everything acknowledged so far.
        var promised = wanted ?? SyncQuorum.None;
        if (mode == settings.Mode && promised.SameAs(logged)) return null;
        if (promised.IsEmpty)
            return mode == settings.Mode && logged.IsEmpty ? null : Record(settings.Mode, SyncQuorum.None, "no synchronous standby", by, correlation);
        var since = Lsn.TryParse(applied!.Lsn, out var lsn) ? lsn : (Lsn?)null;
        var behind = promised.Standbys.Where(s => since is null || !reports.TryGetValue(s, out var r) || r.Flushed is not { } flushed || flushed < since.Value).ToList();
        if (behind.Count > 0) return null;
        return Record(settings.Mode, promised, $"{string.Join(", ", promised.Standbys)} flushed past {since}, where '{value}' took effect: synchronous standbys are {promised}", by, correlation);
    }

    private static string Name(SynchronousMode mode) => mode.ToString().ToLowerInvariant();

    private static Decision Record(SynchronousMode mode, SyncQuorum quorum, string why, Initiator by, string correlation) =>
        new(why, [new SynchronousStandbysChanged(mode, quorum.IsEmpty ? 0 : quorum.Acks, quorum.IsEmpty ? [] : quorum.Standbys) { By = by, CorrelationId = correlation }]);

    private static Decision Apply(ClusterState state, string primary, string value, string why, CoordinatorContext context, string correlation) =>
        new(why, [context.Issue(primary, state.Term, correlation, new ApplySynchronousStandbys(value))]);
}
