using HA.Agent.Gossip;
using HA.Core.State;

namespace HA.Agent.Runtime;

/// <summary>
/// lease.failsafe (DESIGN §3.5): a primary that cannot renew its lease stays while every other member's
/// fresh heartbeat says it still reaches this node's PostgreSQL.
/// </summary>
public static class LeaseFailsafe
{
    /// <param name="healthInterval">a heartbeat is fresh for four of them</param>
    public static bool Confirms(string node, ClusterState? state, IReadOnlyDictionary<string, ReceivedHeartbeat>? heartbeats, DateTimeOffset now, TimeSpan healthInterval)
    {
        if (heartbeats is null || state is null) return false;
        var fresh = TimeSpan.FromTicks(healthInterval.Ticks * 4);
        return state.Nodes.Keys.Where(n => n != node).All(peer =>
            heartbeats.TryGetValue(peer, out var received)
            && now - received.ReceivedAt <= fresh
            && received.Heartbeat.Peers.Any(o => o.Peer == node && o.Reachable));
    }
}
