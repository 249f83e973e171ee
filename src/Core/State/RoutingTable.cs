using HA.Core.Events;

namespace HA.Core.State;

/// <summary>Where a client is sent: one node's address.</summary>
public sealed record RouteEndpoint(string Node, string Host, int Port);

/// <summary>A replica as the log knows it: the facts a reader judges it by, with no limit applied.</summary>
public sealed record ReplicaFacts(string Node, string Host, int Port, NodeRole Role, NodeHealth Health, ReplicationStatus Replication, long? LagBytes, bool Detached, bool Fenced, int Weight);

/// <summary>
/// Who accepts writes and every other member with the facts that decide whether it may serve reads,
/// as projected from the cluster state alone: what the witness stores and what a replay reproduces
/// exactly (DESIGN §3.4). It applies no limit of any reader's: each reader turns it into a
/// <see cref="RoutingTable"/> with its own proxy.max_replica_lag.
/// </summary>
public sealed record RoutingFacts(string Id, string Cluster, long Term, long Version, RouteEndpoint? Primary, IReadOnlyList<ReplicaFacts> Replicas)
{
    public static RoutingFacts From(ClusterState state)
    {
        RouteEndpoint? primary = null;
        if (state.Primary is { } name && state.Nodes.TryGetValue(name, out var p) && !p.Fenced)
            primary = new RouteEndpoint(p.Name, p.Host, p.Port);
        var replicas = state.Nodes.Values
            .Where(n => n.Name != state.Primary)
            .Select(n => new ReplicaFacts(n.Name, n.Host, n.Port, n.Role, n.Health, n.Replication, n.LagBytes, n.Detached, n.Fenced, RoutingTable.DefaultWeight))
            .ToList();
        return new RoutingFacts(state.Cluster, state.Cluster, state.Term, state.Version, primary, replicas);
    }
}

/// <summary>A replica as the proxy's replica port sees it; <see cref="ExcludedBecause"/> says why it serves no reads.</summary>
public sealed record ReplicaRoute(string Node, string Host, int Port, NodeHealth Health, long? LagBytes, int Weight, bool ServesReads, string? ExcludedBecause);

/// <summary>
/// Who accepts writes and which replicas may serve reads, as one reader sees it: the stored
/// <see cref="RoutingFacts"/> with that reader's proxy.max_replica_lag applied. An immutable snapshot:
/// the proxy swaps a whole table, never edits one.
/// </summary>
public sealed record RoutingTable(string Id, string Cluster, long Term, long Version, RouteEndpoint? Primary, IReadOnlyList<ReplicaRoute> Replicas)
{
    public const int DefaultWeight = 100;

    public static RoutingTable From(ClusterState state, long maxReplicaLagBytes) => From(RoutingFacts.From(state), maxReplicaLagBytes);

    /// <summary>Applies a reader's limit: a replica serves reads only when it is a healthy, streaming, attached, unfenced replica within <paramref name="maxReplicaLagBytes"/>.</summary>
    public static RoutingTable From(RoutingFacts facts, long maxReplicaLagBytes)
    {
        var replicas = facts.Replicas
            .Select(n =>
            {
                var excluded = n.Role != NodeRole.Replica ? $"role is {n.Role}"
                    : n.Detached ? "detached"
                    : n.Fenced ? "fenced"
                    : n.Health != NodeHealth.Healthy ? $"health is {n.Health}"
                    : n.Replication != ReplicationStatus.Streaming ? $"replication is {n.Replication}"
                    : n.LagBytes > maxReplicaLagBytes ? $"lag {n.LagBytes} bytes exceeds {maxReplicaLagBytes}"
                    : null;
                return new ReplicaRoute(n.Node, n.Host, n.Port, n.Health, n.LagBytes, n.Weight, excluded is null, excluded);
            })
            .ToList();
        return new RoutingTable(facts.Id, facts.Cluster, facts.Term, facts.Version, facts.Primary, replicas);
    }
}
