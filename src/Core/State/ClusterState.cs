using System.Text.Json.Serialization;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Parameters;

namespace HA.Core.State;

/// <summary>The position and metadata the witness store stamps on an appended event.</summary>
public readonly record struct EventStamp(long Version, DateTimeOffset At, long? FencingToken);

public enum NodeRole
{
    Unknown,
    Primary,
    Replica,
    /// <summary>Was primary before the last PrimaryChanged; must rejoin (rewind or base backup) before serving.</summary>
    FormerPrimary,
}

/// <summary>One member of the cluster as the event log describes it.</summary>
public sealed class NodeView
{
    public string Name { get; set; } = "";
    public string Host { get; set; } = "";
    public int Port { get; set; }

    /// <summary>Where its agent hears gossip, when its NodeJoined recorded it (0: not recorded).</summary>
    public int GossipPort { get; set; }
    public NodeRole Role { get; set; }
    public NodeHealth Health { get; set; }
    public string? HealthReason { get; set; }
    public bool Fenced { get; set; }
    public bool Detached { get; set; }
    public string? DetachedReason { get; set; }

    /// <summary>An operator asked for a new base backup of this node (cleared when it has rejoined).</summary>
    public string? ReinitializeRequested { get; set; }
    public bool NoFailover { get; set; }
    public int FailoverPriority { get; set; }
    public ReplicationStatus Replication { get; set; }
    public string? SyncState { get; set; }
    public long? LagBytes { get; set; }
    public string? Upstream { get; set; }
    public int? Timeline { get; set; }
    public long LastChangeVersion { get; set; }
    public DateTimeOffset LastChangeAt { get; set; }

    /// <summary>The cluster parameters' version this node's agent last reported applying (0: none yet).</summary>
    public long ParametersVersion { get; set; }

    /// <summary>Parameters its PostgreSQL reported pending a restart when it last applied them.</summary>
    public List<string> PendingRestart { get; set; } = [];

    /// <summary>APPLY_CONFIG attempts for the current parameters that failed or expired in a row, the last error and when.</summary>
    public int ParametersFailures { get; set; }
    public string? ParametersError { get; set; }
    public DateTimeOffset? ParametersFailedAt { get; set; }
}

/// <summary>A directive issued and not yet answered.</summary>
public sealed record PendingDirective(string DirectiveId, string Node, DirectiveKind Kind, long Term, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt, string? CorrelationId = null);

/// <summary>
/// A rolling restart in progress (<see cref="RollingRestartRequested"/>): which replicas were restarted,
/// the directive in flight (RESTART of a replica, APPLY_CONFIG to read a demoted primary's pending
/// parameters again) and the switchover of the primary.
/// </summary>
public sealed record RollingRestartProgress(string Id, DateTimeOffset StartedAt)
{
    public IReadOnlyList<string> Restarted { get; init; } = [];
    public string? Node { get; init; }
    public DirectiveKind? Kind { get; init; }
    public string? Directive { get; init; }

    /// <summary>Null while the directive is pending; "succeeded", "failed: …" or "expired: …".</summary>
    public string? Outcome { get; init; }
    public string? SwitchoverId { get; init; }
    public string? SwitchoverFrom { get; init; }

    /// <summary>Null while the switchover runs; "succeeded" or "failed: …".</summary>
    public string? SwitchoverOutcome { get; init; }
}

/// <summary>A failover or switchover in progress, and how far it got: what a new coordinator resumes from.</summary>
public sealed record ActiveOperation(string Id, string Kind, DateTimeOffset StartedAt, string? From, string? To)
{
    public long Term { get; init; }
    public bool FromFenced { get; init; }
    public string? FenceDirective { get; init; }
    public string? FenceOutcome { get; init; }
    public string? PromoteDirective { get; init; }
    public string? PromoteOutcome { get; init; }
    public string? CandidateLsn { get; init; }

    /// <summary>The primary's last known position the candidates were judged against (FailoverStarted), null when unknown.</summary>
    public string? ReferenceLsn { get; init; }

    /// <summary>A scheduled switchover waits until then.</summary>
    public DateTimeOffset? At { get; init; }
    public string? CheckpointDirective { get; init; }
    public string? CheckpointOutcome { get; init; }
    public string? DemoteDirective { get; init; }
    public string? DemoteOutcome { get; init; }

    /// <summary>The final LSN the old primary's agent answered DEMOTE with (<see cref="Demoted"/>); null when unknown.</summary>
    public string? FinalLsn { get; init; }

    /// <summary>
    /// Only in a state stored before outcomes were typed (read, never written): the DEMOTE answer's text,
    /// whose final LSN <see cref="LegacyDirectivePayloads"/> reads into <see cref="FinalLsn"/>.
    /// </summary>
    [JsonInclude]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private string? DemoteDetail
    {
        get => null;
        init => FinalLsn ??= (value is null ? null : LegacyDirectivePayloads.Outcome(DirectiveKind.Demote, value) as Demoted)?.FinalLsn;
    }
    public DateTimeOffset? DemoteIssuedAt { get; init; }
}

/// <summary>
/// The cluster as its event stream describes it, built only by <see cref="Apply"/>: members, roles,
/// health, term, pause, detached nodes, pending directives, PostgreSQL parameters. Pure: replaying the
/// same events with the same stamps always gives the same state. <see cref="Check"/> says whether an
/// event may be appended next.
/// </summary>
public sealed class ClusterState
{
    /// <summary>The stream's key, <c>cluster/&lt;name&gt;</c>.</summary>
    public string Id { get; set; } = "";
    public string Cluster { get; set; } = "";
    public long Version { get; set; }
    public DateTimeOffset? BootstrappedAt { get; set; }
    public DateTimeOffset? LastChangeAt { get; set; }

    /// <summary>The highest term any event has carried; a new failover takes Term + 1.</summary>
    public long Term { get; set; }

    /// <summary>The term in which the current primary was named.</summary>
    public long PrimaryTerm { get; set; }
    public string? Primary { get; set; }
    public int Timeline { get; set; }
    public string? PrimaryLsn { get; set; }
    public string? Coordinator { get; set; }
    public long CoordinatorToken { get; set; }
    public long HighestFencingToken { get; set; }
    public bool Paused { get; set; }
    public string? PausedReason { get; set; }
    public string? PausedBy { get; set; }
    public DateTimeOffset? PausedAt { get; set; }
    public SynchronousMode SynchronousMode { get; set; }
    public int SynchronousNodeCount { get; set; }
    public List<string> SynchronousStandbys { get; set; } = [];

    /// <summary>What the current primary's agent last set synchronous_standby_names to; null when unknown (a new primary).</summary>
    public SynchronousStandbysApplied? SynchronousApplied { get; set; }
    public SortedDictionary<string, NodeView> Nodes { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, PendingDirective> PendingDirectives { get; set; } = new(StringComparer.Ordinal);
    /// <summary>The cluster-wide PostgreSQL parameters pgha sets on every node.</summary>
    public SortedDictionary<string, string> Parameters { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The stream version of the last PostgresParametersChanged (0: never changed); nodes report applying it.</summary>
    public long ParametersVersion { get; set; }
    public DateTimeOffset? ParametersChangedAt { get; set; }

    /// <summary>Every parameter pgha has ever set: those no longer in <see cref="Parameters"/> are reset on each node.</summary>
    public List<string> ParameterNames { get; set; } = [];

    /// <summary>Parameters some member still needs a restart for (its own report, or the change's until it reports).</summary>
    public List<string> PendingRestart { get; set; } = [];
    public RollingRestartProgress? RollingRestart { get; set; }
    public ActiveOperation? Failover { get; set; }

    /// <summary>A manual failover an operator asked for, until the coordinator starts it or refuses it.</summary>
    public FailoverRequested? RequestedFailover { get; set; }
    public ActiveOperation? Switchover { get; set; }

    public static string StreamKey(string cluster) => "cluster/" + cluster;

    public bool IsBootstrapped => Version > 0;

    /// <summary>Why <paramref name="e"/> may not be appended next, or null when it may.</summary>
    public string? Check(ClusterEvent e, long? fencingToken = null)
    {
        if (!IsBootstrapped)
            return e is ClusterBootstrapped b ? CheckBootstrap(b) : $"cluster {Cluster} has no history yet: its first event must be ClusterBootstrapped, not {e.GetType().Name}";
        if (e is ClusterBootstrapped) return $"cluster {Cluster} is already bootstrapped (at version {Version})";
        if (fencingToken is { } token && token < HighestFencingToken)
            return $"fencing token {token} is older than {HighestFencingToken}, already used on cluster {Cluster}: a newer coordinator has taken over";
        if (e is ITermEvent termed && termed.Term < Term)
            return $"{e.GetType().Name} carries term {termed.Term}, older than the cluster's current term {Term}";
        switch (e)
        {
            case NodeJoined joined:
                if (Nodes.ContainsKey(joined.Node)) return $"node {joined.Node} is already a member of cluster {Cluster}";
                if (Nodes.Values.FirstOrDefault(n => n.Host == joined.Spec.Host && n.Port == joined.Spec.Port) is { } same)
                    return $"{joined.Spec.Host}:{joined.Spec.Port} is already member {same.Name}'s address in cluster {Cluster}";
                return NodeSpecProblem(joined.Spec);
            case NodeLeft left when Nodes.ContainsKey(left.Node):
                return NodeLeftProblem(left);
            case INodeEvent about when !Nodes.ContainsKey(about.Node):
                return $"unknown node '{about.Node}' in cluster {Cluster} (members: {string.Join(", ", Nodes.Keys)})";
        }
        return e switch
        {
            PrimaryChanged p when p.Term == PrimaryTerm && p.Node != Primary => $"term {p.Term} already has primary {Primary}; a new primary needs a new term",
            DirectiveSucceeded s when !PendingDirectives.ContainsKey(s.DirectiveId) => $"directive {s.DirectiveId} is not pending (unknown, or already answered)",
            DirectiveFailed f when !PendingDirectives.ContainsKey(f.DirectiveId) => $"directive {f.DirectiveId} is not pending (unknown, or already answered)",
            DirectiveExpired x when !PendingDirectives.ContainsKey(x.DirectiveId) => $"directive {x.DirectiveId} is not pending (unknown, or already answered)",
            DirectiveIssued d when PendingDirectives.ContainsKey(d.DirectiveId) => $"directive {d.DirectiveId} was already issued",
            FailoverPaused when Paused => $"cluster {Cluster} is already paused",
            FailoverResumed when !Paused => $"cluster {Cluster} is not paused",
            SwitchoverRequested r => SwitchoverProblem(r),
            NodeDetached d when d.Node == Primary => $"{d.Node} is the primary: switch over to another node before detaching it",
            NodeDetached d when Nodes[d.Node].Detached => $"{d.Node} is already detached ({Nodes[d.Node].DetachedReason})",
            NodeDetached d when Switchover?.To == d.Node => $"{d.Node} is the target of switchover {Switchover.Id}",
            NodeAttached a when !Nodes[a.Node].Detached => $"{a.Node} is not detached",
            ReinitializeRequested r when r.Node == Primary => $"{r.Node} is the primary: switch over to another node before reinitializing it",
            ReinitializeRequested r when Nodes[r.Node].Detached => $"{r.Node} is detached for maintenance ({Nodes[r.Node].DetachedReason}): attach it first, its agent leaves a detached node's PostgreSQL alone",
            ReinitializeRequested r when Nodes[r.Node].ReinitializeRequested is { } asked => $"{r.Node} is already being reinitialized ({asked})",
            ReinitializeRequested when Failover is { } failing => $"failover {failing.Id} is in progress",
            SwitchoverCompleted c when Switchover?.Id != c.SwitchoverId => $"switchover {c.SwitchoverId} is not in progress",
            SwitchoverFailed f when Switchover?.Id != f.SwitchoverId => $"switchover {f.SwitchoverId} is not in progress",
            SwitchoverFailed f when f.By.Kind == InitiatorKind.User && Switchover?.CheckpointDirective is not null => $"switchover {f.SwitchoverId} has started: it can no longer be cancelled",
            FailoverCompleted c when Failover?.Id != c.FailoverId => $"failover {c.FailoverId} is not in progress",
            FailoverFailed f when Failover?.Id != f.FailoverId && RequestedFailover?.RequestId != f.FailoverId => $"failover {f.FailoverId} is not in progress",
            FailoverRequested r => FailoverRequestProblem(r),
            SynchronousStandbysChanged s when s.Standbys.FirstOrDefault(n => !Nodes.ContainsKey(n)) is { } unknown => $"unknown node '{unknown}' in synchronous standbys of cluster {Cluster}",
            SynchronousStandbysChanged s when s.Standbys.Contains(Primary) => $"{Primary} is the primary: it cannot be its own synchronous standby",
            SynchronousStandbysApplied a when a.Node != Primary => $"{a.Node} is not the primary ({Primary ?? "none"} is): its synchronous_standby_names no longer matter",
            PostgresParametersChanged p => ParametersChangeProblem(p),
            ParametersApplied a when a.ParametersVersion > ParametersVersion => $"{a.Node} reports parameters version {a.ParametersVersion}, but the cluster's parameters are at version {ParametersVersion}",
            ParametersApplied a when a.ParametersVersion < Nodes[a.Node].ParametersVersion => $"{a.Node} already applied parameters version {Nodes[a.Node].ParametersVersion}, newer than {a.ParametersVersion}",
            RollingRestartRequested => RollingRestartProblem(),
            RollingRestartCompleted c when RollingRestart?.Id != c.RestartId => $"rolling restart {c.RestartId} is not in progress",
            RollingRestartFailed f when RollingRestart?.Id != f.RestartId => $"rolling restart {f.RestartId} is not in progress",
            _ => null,
        };
    }

    private string? ParametersChangeProblem(PostgresParametersChanged p)
    {
        if (p.Changes.Count == 0) return "it changes no parameter";
        foreach (var (name, value) in p.Changes)
        {
            if (ManagedParameters.Reason(name) is { } managed) return $"{name} is managed by pgha: {managed}";
            if (value is null && !Parameters.ContainsKey(name)) return $"{name} is not set through pgha: nothing to reset";
        }
        if (p.PendingRestart.FirstOrDefault(n => !p.Changes.ContainsKey(n)) is { } stray) return $"it lists {stray} as pending restart but does not change it";
        if (p.Changes.All(c => c.Value is not null && Parameters.GetValueOrDefault(c.Key) == c.Value))
            return $"it changes nothing: {string.Join(", ", p.Changes.Select(c => $"{c.Key} is already '{c.Value}'"))}";
        return null;
    }

    private string? RollingRestartProblem()
    {
        if (RollingRestart is { } running) return $"rolling restart {running.Id} is already in progress";
        if (Paused) return $"cluster {Cluster} is paused ({PausedReason}): resume it before a rolling restart";
        if (Failover is { } failing) return $"failover {failing.Id} is in progress";
        if (RequestedFailover is { } requested) return $"a failover to {requested.To} was requested ({requested.RequestId})";
        if (Switchover is { } switching) return $"switchover {switching.Id} is in progress";
        if (Primary is null) return $"cluster {Cluster} has no primary";
        var attached = Nodes.Values.Where(n => !n.Detached).ToList();
        if (attached.FirstOrDefault(n => n.ParametersVersion < ParametersVersion) is { } behind)
            return $"{behind.Name} has not applied parameters version {ParametersVersion} yet (it is at {behind.ParametersVersion}): wait until pgha config show says every node applied it";
        if (attached.All(n => n.PendingRestart.Count == 0)) return "no node has a parameter pending restart: nothing to restart";
        return null;
    }

    private string? NodeLeftProblem(NodeLeft left)
    {
        if (left.Node == Primary) return $"{left.Node} is the primary: switch over to another node before removing it";
        if (Failover is { } failing && (failing.From == left.Node || failing.To == left.Node)) return $"{left.Node} takes part in failover {failing.Id}: wait until it ends";
        if (Switchover is { } switching && (switching.From == left.Node || switching.To == left.Node)) return $"{left.Node} takes part in switchover {switching.Id}: wait until it ends or cancel it";
        if (RequestedFailover?.To == left.Node) return $"a failover to {left.Node} was requested ({RequestedFailover.RequestId})";
        return null;
    }

    private string? FailoverRequestProblem(FailoverRequested r)
    {
        if (RequestedFailover is { } pending) return $"a failover to {pending.To} was already requested ({pending.RequestId})";
        if (Failover is { } running) return $"failover {running.Id} is already in progress";
        if (Switchover is { } switching) return $"switchover {switching.Id} is in progress";
        if (r.To == Primary) return $"{r.To} is the primary being replaced";
        if (Nodes[r.To].Detached) return $"{r.To} is detached for maintenance ({Nodes[r.To].DetachedReason})";
        if (Paused && !r.Force) return $"cluster {Cluster} is paused ({PausedReason}): add --force to fail over anyway";
        return null;
    }

    private string? SwitchoverProblem(SwitchoverRequested r)
    {
        if (Switchover is { } running) return $"switchover {running.Id} from {running.From} to {running.To} is already in progress";
        if (Failover is { } failing) return $"failover {failing.Id} is in progress";
        if (Primary is null) return $"cluster {Cluster} has no primary to switch over from (use a manual failover)";
        if (r.From != Primary) return $"{r.From} is not the primary ({Primary} is)";
        if (r.To == Primary) return $"{r.To} is already the primary";
        if (!Nodes.TryGetValue(r.To, out var target)) return $"unknown node '{r.To}' in cluster {Cluster} (members: {string.Join(", ", Nodes.Keys)})";
        if (target.Detached) return $"{r.To} is detached for maintenance ({target.DetachedReason})";
        if (target.Role != NodeRole.Replica) return $"{r.To} is not a replica (its role is {target.Role})";
        if (target.Health != NodeHealth.Healthy) return $"{r.To} is {target.Health.ToString().ToLowerInvariant()} ({target.HealthReason})";
        return null;
    }

    private static string? CheckBootstrap(ClusterBootstrapped b)
    {
        if (b.Members.Count == 0) return "ClusterBootstrapped lists no members";
        if (b.Members.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1) is { } twice) return $"node {twice.Key} is listed twice in ClusterBootstrapped";
        if (b.Members.All(m => m.Name != b.Primary)) return $"primary {b.Primary} is not among the members of ClusterBootstrapped";
        return b.Members.Select(NodeSpecProblem).FirstOrDefault(p => p is not null);
    }

    private static string? NodeSpecProblem(NodeSpec spec) =>
        string.IsNullOrWhiteSpace(spec.Name) ? "a node needs a name"
        : spec.Port is < 1 or > 65535 ? $"node {spec.Name} has port {spec.Port}, outside 1-65535"
        : string.IsNullOrWhiteSpace(spec.Host) ? $"node {spec.Name} has no host"
        : null;

    /// <summary>Applies one event. The caller has checked it (<see cref="Check"/>) or is replaying a stream that was.</summary>
    public void Apply(ClusterEvent e, EventStamp stamp)
    {
        Version = stamp.Version;
        LastChangeAt = stamp.At;
        if (stamp.FencingToken is { } token && token > HighestFencingToken) HighestFencingToken = token;
        if (e is ITermEvent termed && termed.Term > Term) Term = termed.Term;
        switch (e)
        {
            case ClusterBootstrapped b:
                Cluster = b.Cluster;
                Id = StreamKey(b.Cluster);
                BootstrappedAt = stamp.At;
                Term = Math.Max(Term, 1);
                PrimaryTerm = 1;
                Primary = b.Primary;
                Timeline = b.Timeline;
                PrimaryLsn = b.Lsn;
                foreach (var member in b.Members)
                {
                    var node = Join(member, stamp);
                    node.Role = member.Name == b.Primary ? NodeRole.Primary : NodeRole.Replica;
                    node.Health = NodeHealth.Healthy;
                    node.Timeline = b.Timeline;
                }
                break;
            case NodeJoined j:
                Join(j.Spec, stamp).Role = NodeRole.Replica;
                break;
            case NodeLeft l:
                Nodes.Remove(l.Node);
                // One standby fewer, one acknowledgement fewer: the rest still cover every commit.
                if (SynchronousStandbys.Remove(l.Node)) SynchronousNodeCount = Math.Max(0, SynchronousNodeCount - 1);
                if (SynchronousNodeCount == 0) SynchronousStandbys.Clear();
                // Nobody will answer its directives, and an answer or expiry about a non-member is refused.
                foreach (var pending in PendingDirectives.Values.Where(d => d.Node == l.Node).ToList()) PendingDirectives.Remove(pending.DirectiveId);
                if (Primary == l.Node) Primary = null;
                break;
            case NodeDetached d:
                Touch(d.Node, stamp, n => { n.Detached = true; n.DetachedReason = d.Reason; });
                break;
            case ReinitializeRequested r:
                Touch(r.Node, stamp, n => n.ReinitializeRequested = r.Reason);
                break;
            case NodeAttached a:
                Touch(a.Node, stamp, n => { n.Detached = false; n.DetachedReason = null; });
                break;
            case NodeHealthChanged h:
                Touch(h.Node, stamp, n => { n.Health = h.Health; n.HealthReason = h.Reason; });
                break;
            case ReplicationStateChanged r:
                Touch(r.Node, stamp, n => { n.Replication = r.Status; n.SyncState = r.SyncState; n.LagBytes = r.LagBytes; n.Upstream = r.Upstream; });
                break;
            case CoordinatorElected c:
                Coordinator = c.Node;
                CoordinatorToken = c.FencingToken;
                if (c.FencingToken > HighestFencingToken) HighestFencingToken = c.FencingToken;
                break;
            case FailoverPaused p:
                (Paused, PausedReason, PausedBy, PausedAt) = (true, p.Reason, p.By.ToString(), stamp.At);
                break;
            case FailoverResumed:
                (Paused, PausedReason, PausedBy, PausedAt) = (false, null, null, null);
                break;
            case PostgresParametersChanged p:
                foreach (var (name, value) in p.Changes)
                {
                    if (value is null) Parameters.Remove(name); else Parameters[name] = value;
                }
                (ParametersVersion, ParametersChangedAt) = (stamp.Version, stamp.At);
                ParameterNames = [.. ParameterNames.Union(Parameters.Keys).Order(StringComparer.Ordinal)];
                PendingRestart = [.. PendingRestart.Union(p.PendingRestart).Order(StringComparer.Ordinal)];
                foreach (var node in Nodes.Values) (node.ParametersFailures, node.ParametersError, node.ParametersFailedAt) = (0, null, null);
                break;
            case ParametersApplied a:
                Touch(a.Node, stamp, n =>
                {
                    (n.ParametersVersion, n.PendingRestart) = (a.ParametersVersion, [.. a.PendingRestart.Order(StringComparer.Ordinal)]);
                    (n.ParametersFailures, n.ParametersError, n.ParametersFailedAt) = (0, null, null);
                });
                // A name stays pending until every member has applied the current version without it.
                var reported = Nodes.Values.SelectMany(n => n.PendingRestart);
                PendingRestart = [.. (Nodes.Values.All(n => n.ParametersVersion == ParametersVersion) ? reported : reported.Union(PendingRestart)).Distinct().Order(StringComparer.Ordinal)];
                break;
            case RollingRestartRequested r:
                RollingRestart = new RollingRestartProgress(r.RestartId, stamp.At);
                break;
            case RollingRestartCompleted or RollingRestartFailed:
                RollingRestart = null;
                break;
            case SynchronousStandbysChanged s:
                (SynchronousMode, SynchronousNodeCount, SynchronousStandbys) = (s.Mode, s.NodeCount, [.. s.Standbys]);
                break;
            case SynchronousStandbysApplied a:
                SynchronousApplied = a;
                break;
            case FailoverRequested r:
                RequestedFailover = r;
                break;
            case FailoverStarted f:
                RequestedFailover = null;
                Failover = new ActiveOperation(f.FailoverId, "failover", stamp.At, f.OldPrimary, f.Candidate)
                {
                    Term = f.Term,
                    FromFenced = f.OldPrimary is null || (Nodes.TryGetValue(f.OldPrimary, out var oldPrimary) && oldPrimary.Fenced),
                    CandidateLsn = f.Candidates.FirstOrDefault(c => c.Node == f.Candidate)?.ReceivedLsn,
                    ReferenceLsn = f.ReferenceLsn,
                };
                break;
            case FailoverCompleted:
                Failover = null;
                break;
            case FailoverFailed failed:
                if (Failover?.Id == failed.FailoverId) Failover = null;
                if (RequestedFailover?.RequestId == failed.FailoverId) RequestedFailover = null;
                break;
            case NodeFenced f:
                Touch(f.Node, stamp, n => n.Fenced = true);
                if (Failover is { } fencing && fencing.From == f.Node) Failover = fencing with { FromFenced = true };
                break;
            case PrimaryChanged p:
                if (Primary is { } old && old != p.Node && Nodes.ContainsKey(old))
                    Touch(old, stamp, n => n.Role = NodeRole.FormerPrimary);
                Touch(p.Node, stamp, n => { n.Role = NodeRole.Primary; n.Fenced = false; n.Replication = ReplicationStatus.Unknown; n.LagBytes = null; n.Upstream = null; n.Timeline = p.Timeline; });
                (Primary, PrimaryTerm, Timeline, PrimaryLsn) = (p.Node, p.Term, p.Timeline, p.Lsn);
                // A new primary starts with no standby known to have its commits: the coordinator adds
                // them again as they catch up (until then nobody qualifies in synchronous mode).
                (SynchronousNodeCount, SynchronousStandbys, SynchronousApplied) = (0, [], null);
                break;
            case NodeRejoined r:
                Touch(r.Node, stamp, n => { n.Role = NodeRole.Replica; n.Fenced = false; n.Timeline = r.Timeline; n.ReinitializeRequested = null; });
                break;
            case SwitchoverRequested s:
                Switchover = new ActiveOperation(s.SwitchoverId, "switchover", stamp.At, s.From, s.To) { At = s.At };
                if (RollingRestart is { } restarting && s.CorrelationId == restarting.Id)
                    RollingRestart = restarting with { SwitchoverId = s.SwitchoverId, SwitchoverFrom = s.From, SwitchoverOutcome = null };
                break;
            case SwitchoverCompleted or SwitchoverFailed:
                if (RollingRestart is { } switched && switched.SwitchoverId == Switchover?.Id)
                    RollingRestart = switched with { SwitchoverOutcome = e is SwitchoverFailed sf ? "failed: " + sf.Reason : "succeeded" };
                Switchover = null;
                break;
            case DirectiveIssued d:
                PendingDirectives[d.DirectiveId] = new PendingDirective(d.DirectiveId, d.Node, d.Kind, d.Term, stamp.At, d.ExpiresAt, d.CorrelationId);
                if (RollingRestart is { } rolling && d.CorrelationId == rolling.Id)
                    RollingRestart = rolling with { Node = d.Node, Kind = d.Kind, Directive = d.DirectiveId, Outcome = null };
                if (Switchover is { } switching && d.CorrelationId == switching.Id)
                {
                    Switchover = d.Kind switch
                    {
                        DirectiveKind.Checkpoint => switching with { CheckpointDirective = d.DirectiveId, CheckpointOutcome = null, Term = d.Term },
                        DirectiveKind.Demote => switching with { DemoteDirective = d.DirectiveId, DemoteOutcome = null, DemoteIssuedAt = stamp.At },
                        DirectiveKind.Promote => switching with { PromoteDirective = d.DirectiveId, PromoteOutcome = null },
                        _ => switching,
                    };
                }
                if (Failover is { } issuing && d.CorrelationId == issuing.Id)
                {
                    Failover = d.Kind switch
                    {
                        DirectiveKind.Fence => issuing with { FenceDirective = d.DirectiveId, FenceOutcome = null },
                        DirectiveKind.Promote => issuing with { PromoteDirective = d.DirectiveId, PromoteOutcome = null },
                        _ => issuing,
                    };
                }
                break;
            case DirectiveSucceeded s:
                var answered = PendingDirectives.GetValueOrDefault(s.DirectiveId);
                PendingDirectives.Remove(s.DirectiveId);
                RecordOutcome(s.DirectiveId, "succeeded");
                if (RollingRestart is { } restarted && restarted.Directive == s.DirectiveId)
                    RollingRestart = restarted with { Outcome = "succeeded", Restarted = restarted.Kind == DirectiveKind.Restart ? [.. restarted.Restarted, s.Node] : restarted.Restarted };
                if (Switchover is { } demoted && demoted.DemoteDirective == s.DirectiveId)
                {
                    // An answer stored before outcomes were typed has only its sentence.
                    var outcome = s.Outcome ?? (answered is null ? null : LegacyDirectivePayloads.Outcome(answered.Kind, s.Detail));
                    Switchover = demoted with { FinalLsn = (outcome as Demoted)?.FinalLsn };
                }
                break;
            case DirectiveFailed f:
                ParametersFailed(f.DirectiveId, f.Error, stamp);
                PendingDirectives.Remove(f.DirectiveId);
                RecordOutcome(f.DirectiveId, "failed: " + f.Error);
                break;
            case DirectiveExpired x:
                ParametersFailed(x.DirectiveId, x.Reason, stamp);
                PendingDirectives.Remove(x.DirectiveId);
                RecordOutcome(x.DirectiveId, "expired: " + x.Reason);
                break;
        }
    }

    /// <summary>An APPLY_CONFIG of a parameters rollout that failed or expired: counted on its node (the coordinator waits longer before the next).</summary>
    private void ParametersFailed(string directiveId, string error, EventStamp stamp)
    {
        if (PendingDirectives.GetValueOrDefault(directiveId) is { Kind: DirectiveKind.ApplyConfig, CorrelationId: { } correlation } pending && ParameterDirective.IsRollout(correlation))
            Touch(pending.Node, stamp, n => (n.ParametersFailures, n.ParametersError, n.ParametersFailedAt) = (n.ParametersFailures + 1, error, stamp.At));
    }

    private void RecordOutcome(string directiveId, string outcome)
    {
        if (RollingRestart is { } rolling && rolling.Directive == directiveId && outcome != "succeeded") RollingRestart = rolling with { Outcome = outcome };
        if (Switchover is { } switching)
        {
            if (switching.CheckpointDirective == directiveId) Switchover = switching with { CheckpointOutcome = outcome };
            else if (switching.DemoteDirective == directiveId) Switchover = switching with { DemoteOutcome = outcome };
            else if (switching.PromoteDirective == directiveId) Switchover = switching with { PromoteOutcome = outcome };
        }
        if (Failover is not { } running) return;
        if (running.FenceDirective == directiveId) Failover = running with { FenceOutcome = outcome };
        else if (running.PromoteDirective == directiveId) Failover = running with { PromoteOutcome = outcome };
    }

    /// <summary>Replays a whole stream from nothing.</summary>
    public static ClusterState Replay(IEnumerable<(ClusterEvent Event, EventStamp Stamp)> events, ClusterState? from = null)
    {
        var state = from ?? new ClusterState();
        foreach (var (e, stamp) in events) state.Apply(e, stamp);
        return state;
    }

    private NodeView Join(NodeSpec spec, EventStamp stamp)
    {
        var node = new NodeView
        {
            Name = spec.Name,
            Host = spec.Host,
            Port = spec.Port,
            GossipPort = spec.GossipPort,
            FailoverPriority = spec.FailoverPriority,
            NoFailover = spec.NoFailover,
            LastChangeVersion = stamp.Version,
            LastChangeAt = stamp.At,
        };
        Nodes[spec.Name] = node;
        return node;
    }

    private void Touch(string name, EventStamp stamp, Action<NodeView> change)
    {
        if (!Nodes.TryGetValue(name, out var node)) return;
        change(node);
        node.LastChangeVersion = stamp.Version;
        node.LastChangeAt = stamp.At;
    }
}
