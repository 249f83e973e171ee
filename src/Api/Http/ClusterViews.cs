using HA.Agent.Gossip;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Api.Http;

/// <summary>A node as <c>GET /api/v1/nodes</c> lists it: one row of the table.</summary>
public sealed record NodeRow(
    string Name, string Host, int Port, NodeRole Role, string State, int? Timeline, string? Lsn,
    long? LagBytes, double? LagSeconds, string? SyncState, bool Detached);

/// <summary>A node as <c>GET /api/v1/nodes/{name}</c> shows it: the log's view joined with its last heartbeat and the primary's replication report.</summary>
public sealed record NodeDetail(
    string Name, string Host, int Port, NodeRole Role, string State, NodeHealth Health, string? HealthReason,
    bool? PostgresRunning, int? Timeline, string? Lsn, string? ReceivedLsn, string? ReplayedLsn,
    long? LagBytes, double? LagSeconds, string? SyncState, ReplicationStatus Replication, string? Upstream,
    bool Fenced, bool Detached, string? DetachedReason, bool Nofailover, int FailoverPriority,
    long LastChangeVersion, DateTimeOffset LastChangeAt, long? HeartbeatAgeMs, string? Detail,
    NodeConnections Connections, IReadOnlyList<string> PendingRestart)
{
    public NodeRow Row() => new(Name, Host, Port, Role, State, Timeline, Lsn, LagBytes, LagSeconds, SyncState, Detached);
}

/// <summary>Client connections to a node: through this node's proxy (null when it runs none).</summary>
public sealed record NodeConnections(long? Proxy);

/// <summary>One member of the gossip view: its last heartbeat and how old it is.</summary>
public sealed record MemberRow(
    string Name, bool Member, long? HeartbeatAgeMs, long? Incarnation, long? Sequence, bool? PostgresRunning, string? Role,
    int? Timeline, string? Lsn, long? StateVersion, string? Detail);

/// <summary>
/// Pure functions turning what a node knows — the cluster state from the log, the heartbeats it hears,
/// the primary's pg_stat_replication — into the read endpoints' answers.
/// </summary>
public static class ClusterViews
{
    /// <summary>
    /// Every member of the log, with what its heartbeat says when fresh (newer than
    /// <paramref name="freshness"/>); lag bytes against the primary's reported position; lag seconds
    /// and sync state from the primary's replication rows when given.
    /// </summary>
    public static IReadOnlyList<NodeDetail> Nodes(
        ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> heartbeats, DateTimeOffset now, TimeSpan freshness,
        IReadOnlyList<StandbyReplication>? replication, IReadOnlyDictionary<string, long>? proxyConnections, string? recordedPrimaryLsn = null)
    {
        Heartbeat? Fresh(string node) => heartbeats.TryGetValue(node, out var r) && now - r.ReceivedAt <= freshness ? r.Heartbeat : null;
        var primaryBeat = state.Primary is { } p ? Fresh(p) : null;
        var primaryAt = primaryBeat is { PostgresRunning: true, InRecovery: false, CurrentLsn: { } current } && Lsn.TryParse(current, out var lsn) ? lsn
            : Lsn.TryParse(recordedPrimaryLsn, out var recorded) ? recorded : (Lsn?)null;
        var rows = replication?.ToDictionary(r => r.Node, StringComparer.Ordinal) ?? [];
        return [.. state.Nodes.Values.Select(node =>
        {
            var beat = Fresh(node.Name);
            var received = heartbeats.TryGetValue(node.Name, out var r) ? r : null;
            var isPrimary = node.Name == state.Primary;
            var standby = rows.GetValueOrDefault(node.Name);
            long? lagBytes = null;
            if (!isPrimary)
            {
                var position = beat is { InRecovery: true } ? beat.ReplayedLsn ?? beat.ReceivedLsn : null;
                lagBytes = standby?.LagBytes
                    ?? (primaryAt is { } at && Lsn.TryParse(position, out var replayed) ? Lsn.BytesBehind(at, replayed) : node.LagBytes);
            }
            double? lagSeconds = isPrimary ? null : standby?.ReplayLagSeconds ?? (lagBytes == 0 ? 0 : null);
            return new NodeDetail(
                node.Name, node.Host, node.Port, node.Role, StateOf(node, beat), node.Health, node.HealthReason,
                beat?.PostgresRunning, beat?.Timeline ?? node.Timeline,
                beat is null ? null : beat.InRecovery ? beat.ReceivedLsn ?? beat.ReplayedLsn : beat.CurrentLsn,
                beat?.ReceivedLsn, beat?.ReplayedLsn, lagBytes, lagSeconds,
                isPrimary ? null : standby?.SyncState ?? node.SyncState, node.Replication, beat?.Upstream ?? node.Upstream,
                node.Fenced, node.Detached, node.DetachedReason, node.NoFailover, node.FailoverPriority,
                node.LastChangeVersion, node.LastChangeAt,
                received is null ? null : (long)Math.Max(0, (now - received.ReceivedAt).TotalMilliseconds), beat?.Detail,
                new NodeConnections(proxyConnections is null ? null : proxyConnections.GetValueOrDefault(node.Name)),
                node.PendingRestart);
        })];
    }

    /// <summary>
    /// One word for what a node is doing: fenced; stopped / running (a primary) / streaming / catching_up
    /// (a standby) from a fresh heartbeat; else the log's health (unhealthy, unreachable, unknown).
    /// </summary>
    public static string StateOf(NodeView node, Heartbeat? fresh)
    {
        if (node.Fenced) return "fenced";
        if (fresh is null) return node.Health switch { NodeHealth.Unhealthy => "unhealthy", NodeHealth.Unreachable => "unreachable", _ => "unknown" };
        if (!fresh.PostgresRunning) return "stopped";
        if (!fresh.InRecovery) return "running";
        if (fresh.Upstream is null) return "replaying";
        return node.Replication == ReplicationStatus.CatchingUp ? "catching_up" : "streaming";
    }

    /// <summary>The gossip view: every node heard or named by the log, the answering node's own heartbeat included.</summary>
    public static IReadOnlyList<MemberRow> Members(ClusterState? state, IReadOnlyDictionary<string, ReceivedHeartbeat> heartbeats, DateTimeOffset now)
    {
        var names = heartbeats.Keys.Union(state?.Nodes.Keys ?? Enumerable.Empty<string>(), StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return [.. names.Select(name =>
        {
            var member = state?.Nodes.ContainsKey(name) ?? false;
            if (!heartbeats.TryGetValue(name, out var r)) return new MemberRow(name, member, null, null, null, null, null, null, null, null, "no heartbeat heard");
            var b = r.Heartbeat;
            return new MemberRow(name, member, (long)Math.Max(0, (now - r.ReceivedAt).TotalMilliseconds), b.Incarnation, b.Sequence, b.PostgresRunning,
                !b.PostgresRunning ? null : b.InRecovery ? "replica" : "primary", b.Timeline,
                b.InRecovery ? b.ReceivedLsn ?? b.ReplayedLsn : b.CurrentLsn, b.StateVersion, b.Detail);
        })];
    }
}
