using HA.Core.Events;

namespace HA.Core.State;

/// <summary>Where a client is sent: one node's address.</summary>
public sealed record RouteEndpoint(string Node, string Host, int Port);

/// <summary>A replica as the proxy's replica port sees it; <see cref="ExcludedBecause"/> says why it serves no reads.</summary>
public sealed record ReplicaRoute(string Node, string Host, int Port, NodeHealth Health, long? LagBytes, int Weight, bool ServesReads, string? ExcludedBecause);

/// <summary>
/// Who accepts writes and which replicas may serve reads, as projected from the cluster state. An
/// immutable snapshot: the proxy swaps a whole table, never edits one.
/// </summary>
public sealed record RoutingTable(string Id, string Cluster, long Term, long Version, RouteEndpoint? Primary, IReadOnlyList<ReplicaRoute> Replicas)
{
    public const int DefaultWeight = 100;

    public static RoutingTable From(ClusterState state, long maxReplicaLagBytes)
    {
        RouteEndpoint? primary = null;
        if (state.Primary is { } name && state.Nodes.TryGetValue(name, out var p) && !p.Fenced)
            primary = new RouteEndpoint(p.Name, p.Host, p.Port);
        var replicas = state.Nodes.Values
            .Where(n => n.Name != state.Primary)
            .Select(n =>
            {
                var excluded = n.Role != NodeRole.Replica ? $"role is {n.Role}"
                    : n.Detached ? "detached"
                    : n.Fenced ? "fenced"
                    : n.Health != NodeHealth.Healthy ? $"health is {n.Health}"
                    : n.Replication != ReplicationStatus.Streaming ? $"replication is {n.Replication}"
                    : n.LagBytes > maxReplicaLagBytes ? $"lag {n.LagBytes} bytes exceeds {maxReplicaLagBytes}"
                    : null;
                return new ReplicaRoute(n.Name, n.Host, n.Port, n.Health, n.LagBytes, DefaultWeight, excluded is null, excluded);
            })
            .ToList();
        return new RoutingTable(state.Cluster, state.Cluster, state.Term, state.Version, primary, replicas);
    }
}
