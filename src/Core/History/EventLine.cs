using HA.Core.Directives;
using HA.Core.Events;

namespace HA.Core.History;

/// <summary>One line per event, for people: what happened, to whom, and why (the demo's output, the CLI's history).</summary>
public static class EventLine
{
    public static string Describe(RecordedEvent recorded) => $"{recorded.Type} — {Describe(recorded.Event)} (by {recorded.Event.By})";

    public static string Describe(ClusterEvent e) => e switch
    {
        ClusterBootstrapped b => $"cluster {b.Cluster} bootstrapped: primary {b.Primary} on timeline {b.Timeline}, members {string.Join(", ", b.Members.Select(m => m.Name))}",
        CoordinatorElected c => $"{c.Node} is coordinator (token {c.FencingToken})",
        NodeHealthChanged h => $"{h.Node} is {h.Health.ToString().ToLowerInvariant()}: {h.Reason}",
        ReplicationStateChanged r => $"{r.Node} replication {r.Status.ToString().ToLowerInvariant()} ({r.Reason})",
        FailoverStarted f => $"failover {f.FailoverId} in term {f.Term}: {f.Trigger}; candidate {f.Candidate ?? "none"}"
            + (f.Candidates.Any(c => c.RejectedBecause is not null) ? $"; not chosen: {string.Join("; ", f.Candidates.Where(c => c.RejectedBecause is not null && c.Node != f.OldPrimary).Select(c => $"{c.Node} ({c.RejectedBecause})"))}" : ""),
        NodeFenced n => $"{n.Node} fenced: {n.How}",
        PrimaryChanged p => $"{p.Node} is the primary of term {p.Term} (was {p.Previous ?? "none"}), timeline {p.Timeline}",
        FailoverCompleted c => $"failover {c.FailoverId} completed in {c.Duration.TotalSeconds:0.00} s: {c.NewPrimary} is primary",
        FailoverFailed f => $"failover {f.FailoverId} failed after {f.Duration.TotalSeconds:0.00} s: {f.Reason}",
        DirectiveIssued d => $"{KindName(d.Kind)} → {d.Node} (directive {d.DirectiveId}, term {d.Term}{(Describe(d.Directive) is { Length: > 0 } what ? ", " + what : "")})",
        DirectiveSucceeded s => $"{s.Node} did directive {s.DirectiveId} in {s.Duration.TotalMilliseconds:0} ms: {s.Detail}",
        DirectiveFailed f => $"{f.Node} failed directive {f.DirectiveId} after {f.Duration.TotalMilliseconds:0} ms: {f.Error}",
        DirectiveExpired x => $"{KindName(x.Kind)} to {x.Node} expired ({x.Reason})",
        NodeRejoined r => $"{r.Node} rejoined as a replica by {r.Method} in {r.Duration.TotalSeconds:0.0} s",
        NodeJoined j => $"{j.Spec.Name} joined ({j.Spec.Host}:{j.Spec.Port})",
        NodeLeft l => $"{l.Node} left: {l.Reason}",
        NodeDetached d => $"{d.Node} detached: {d.Reason}",
        NodeAttached a => $"{a.Node} attached",
        FailoverRequested r => $"manual failover to {r.To} requested{(r.AllowDataLoss ? ", data loss allowed" : "")}{(r.Force ? ", forced" : "")}",
        FailoverPaused p => $"automatic failover paused: {p.Reason}",
        FailoverResumed r => $"automatic failover resumed: {r.Reason}",
        PostgresParametersChanged p => "parameters " + string.Join(", ", p.Changes.Select(c => c.Value is null ? $"{c.Key} reset" : $"{c.Key} = '{c.Value}'"))
            + (p.PendingRestart.Count > 0 ? $" (pending restart: {string.Join(", ", p.PendingRestart)})" : "") + (p.Reason is null ? "" : $": {p.Reason}"),
        ParametersApplied a => $"{a.Node} applied parameters version {a.ParametersVersion}; pending restart: {(a.PendingRestart.Count == 0 ? "none" : string.Join(", ", a.PendingRestart))}",
        RollingRestartRequested r => $"rolling restart {r.RestartId} requested: {r.Reason}",
        RollingRestartCompleted c => $"rolling restart {c.RestartId} completed in {c.Duration.TotalSeconds:0.0} s: restarted {string.Join(", ", c.Restarted)}",
        RollingRestartFailed f => $"rolling restart {f.RestartId} failed: {f.Reason}",
        SynchronousStandbysChanged s => s.Standbys.Count == 0 || s.NodeCount == 0
            ? $"synchronous mode {s.Mode.ToString().ToLowerInvariant()}: no standby is promised every acknowledged commit"
            : $"synchronous mode {s.Mode.ToString().ToLowerInvariant()}: {s.NodeCount} of ({string.Join(", ", s.Standbys)}) acknowledge every commit; only they may be promoted",
        SynchronousStandbysApplied a => $"{a.Node} waits for synchronous_standby_names = '{a.Value}' from {a.Lsn} on",
        ReinitializeRequested r => $"reinitialize of {r.Node} requested: {r.Reason}",
        _ => e.GetType().Name,
    };

    /// <summary>What a directive carries, for people: "after 0/5000200", "upstream n1", "synchronous_standby_names 'ANY 1 (n2)'".</summary>
    public static string Describe(Directive directive) => directive switch
    {
        Promote p => string.Join(", ", new[]
        {
            p.AfterLsn is null ? null : $"after {p.AfterLsn}",
            p.SynchronousStandbyNames is null ? null : $"synchronous_standby_names '{p.SynchronousStandbyNames}'",
        }.OfType<string>()),
        Demote d => $"upstream {d.Upstream}",
        Repoint r => $"upstream {r.Upstream}",
        Rewind r => $"upstream {r.Upstream}",
        Reinitialize r => $"upstream {r.Upstream}",
        ApplySynchronousStandbys s => $"synchronous_standby_names '{s.Value}'",
        ApplyParameters a => $"parameters version {a.Version}: "
            + string.Join(", ", a.Desired.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} = '{p.Value}'").Concat(a.Reset.Select(r => $"{r} reset")).DefaultIfEmpty("none")),
        Restart r => $"parameters version {r.ParametersVersion}",
        _ => "",
    };

    /// <summary>A directive kind as the design writes it: APPLY_CONFIG, REINITIALIZE.</summary>
    public static string KindName(DirectiveKind kind) =>
        string.Concat(kind.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();
}
