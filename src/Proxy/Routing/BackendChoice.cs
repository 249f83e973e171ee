using HA.Core.State;

namespace HA.Proxy.Routing;

/// <summary>A server to connect a client to, or why there is none (the client gets it as a FATAL error).</summary>
public sealed record BackendChoice(RouteEndpoint? Endpoint, string SqlState, string Refusal)
{
    public static BackendChoice To(RouteEndpoint endpoint) => new(endpoint, "", "");

    public static BackendChoice Refused(string sqlState, string why) => new(null, sqlState, why);
}

/// <summary>
/// Picks a server for a new client from one routing table snapshot: the primary for the primary port;
/// for the replica port a replica that serves reads, chosen by the balancing policy, else the primary
/// or a refusal (<see cref="ReplicaFallback"/>). Also says whether an open connection may stay.
/// </summary>
public sealed class BackendRouter(ReplicaFallback fallback, IReplicaBalancer balancer)
{
    public BackendChoice Choose(ProxyPort port, RoutingTable? table)
    {
        if (table is null)
            return BackendChoice.Refused(Protocol.SqlStates.ConnectionFailure, "pgha proxy has not read a routing table yet (the witness store has not answered); try again shortly");
        if (port == ProxyPort.Replica)
        {
            var serving = table.Replicas.Where(r => r.ServesReads).ToList();
            if (serving.Count > 0 && balancer.Pick(serving) is { } replica)
                return BackendChoice.To(new RouteEndpoint(replica.Node, replica.Host, replica.Port));
            var why = table.Replicas.Count == 0 ? "the cluster has no replicas"
                : "no replica serves reads (" + string.Join("; ", table.Replicas.Select(r => $"{r.Node}: {r.ExcludedBecause ?? "busy"}")) + ")";
            if (fallback == ReplicaFallback.Refuse)
                return BackendChoice.Refused(Protocol.SqlStates.CannotConnectNow, $"{why} and proxy.replica_fallback is refuse; try again later or use the primary port");
            if (table.Primary is null)
                return BackendChoice.Refused(Protocol.SqlStates.CannotConnectNow, $"{why}, and the cluster has no primary right now to fall back to (a failover may be in progress); try again shortly");
            return BackendChoice.To(table.Primary);
        }
        return table.Primary is { } primary
            ? BackendChoice.To(primary)
            : BackendChoice.Refused(Protocol.SqlStates.CannotConnectNow, $"the cluster {table.Cluster} has no primary right now (a failover may be in progress); try again shortly");
    }

    /// <summary>
    /// Whether a connection through <paramref name="port"/> to <paramref name="node"/> may stay open
    /// under <paramref name="table"/>: a primary-port connection only while its node is the primary; a
    /// replica-port one while its node serves reads, or is the primary it fell back to.
    /// </summary>
    public bool MayStay(ProxyPort port, RouteEndpoint node, RoutingTable table)
    {
        var isPrimary = table.Primary is { } p && p == node;
        if (port == ProxyPort.Primary) return isPrimary;
        return table.Replicas.Any(r => r.ServesReads && r.Node == node.Node && r.Host == node.Host && r.Port == node.Port)
            || (fallback == ReplicaFallback.Primary && isPrimary);
    }
}
