using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Replication;

/// <summary>What the coordinator sees of one replica from the agents' heartbeats: whether it streams from the primary, and how far its replay is behind the primary's position.</summary>
public sealed record ReplicaObservation(string Node, bool StreamingFromPrimary, long? LagBytes, string? Upstream);

/// <summary>
/// Which <see cref="ReplicationStateChanged"/> events the heartbeats call for: one when a replica starts
/// or stops streaming from the primary, or when its lag crosses <c>maxLagBytes</c> either way, never for
/// every lag sample (the log records transitions, the routing table reads them).
/// </summary>
public static class ReplicationReports
{
    public static IReadOnlyList<ReplicationStateChanged> Changes(ClusterState state, IEnumerable<ReplicaObservation> observations, long maxLagBytes, Initiator by)
    {
        var changes = new List<ReplicationStateChanged>();
        foreach (var seen in observations)
        {
            if (!state.Nodes.TryGetValue(seen.Node, out var view) || seen.Node == state.Primary || view.Role != NodeRole.Replica) continue;
            var status = seen.StreamingFromPrimary ? ReplicationStatus.Streaming : ReplicationStatus.Stopped;
            var lag = seen.StreamingFromPrimary ? Math.Max(0, seen.LagBytes ?? 0) : view.LagBytes ?? 0;
            var over = lag > maxLagBytes;
            string reason;
            if (status != view.Replication)
                reason = seen.StreamingFromPrimary
                    ? $"streaming from {state.Primary}, {lag} bytes behind"
                    : $"not streaming from the primary {state.Primary} (upstream: {seen.Upstream ?? "none"})";
            else if (status == ReplicationStatus.Streaming && over != (view.LagBytes > maxLagBytes))
                reason = over ? $"lag {lag} bytes exceeds {maxLagBytes}" : $"lag {lag} bytes is back within {maxLagBytes}";
            else
                continue;
            changes.Add(new ReplicationStateChanged(seen.Node, status, view.SyncState ?? "async", lag, seen.Upstream, reason)
            {
                By = by,
                CorrelationId = $"replication-{seen.Node}-{state.Version}",
            });
        }
        return changes;
    }
}
