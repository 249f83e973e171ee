using HA.Agent.Gossip;
using HA.Agent.Runtime;
using HA.Core.Events;
using HA.Core.State;

namespace HA.Agent.Tests.Runtime;

/// <summary>lease.failsafe (DESIGN §3.5): a primary stays without its lease store only while every other member's fresh heartbeat reaches it.</summary>
public sealed class the_lease_failsafe
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 3, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    private static ClusterState Log()
    {
        var state = new ClusterState { Cluster = "c" };
        state.Apply(new ClusterBootstrapped("c", "n1", 1, "0/0", [new NodeSpec("n1", "127.0.0.1", 5001), new NodeSpec("n2", "127.0.0.1", 5002), new NodeSpec("n3", "127.0.0.1", 5003)])
        { By = Initiator.System, CorrelationId = "b" }, new EventStamp(1, Now, null));
        return state;
    }

    private static ReceivedHeartbeat Beat(string node, bool reachesN1, double ageSeconds = 0.1) => new(new Heartbeat
    {
        Cluster = "c",
        Node = node,
        Incarnation = 1,
        Sequence = 1,
        SentAt = Now,
        PostgresRunning = true,
        InRecovery = true,
        Peers = [new PeerObservation("n1", reachesN1, reachesN1 ? null : Now, reachesN1 ? "accepts connections" : "connection refused")],
    }, Now.AddSeconds(-ageSeconds), 0);

    [Fact]
    public void every_other_member_reaching_the_primary_confirms_it()
    {
        var beats = new Dictionary<string, ReceivedHeartbeat> { ["n2"] = Beat("n2", true), ["n3"] = Beat("n3", true) };

        Assert.True(LeaseFailsafe.Confirms("n1", Log(), beats, Now, Interval));
    }

    [Fact]
    public void one_member_that_cannot_reach_it_or_is_not_heard_lately_or_no_log_does_not()
    {
        var unreachable = new Dictionary<string, ReceivedHeartbeat> { ["n2"] = Beat("n2", true), ["n3"] = Beat("n3", false) };
        var stale = new Dictionary<string, ReceivedHeartbeat> { ["n2"] = Beat("n2", true), ["n3"] = Beat("n3", true, ageSeconds: 2.1) };
        var missing = new Dictionary<string, ReceivedHeartbeat> { ["n2"] = Beat("n2", true) };

        Assert.False(LeaseFailsafe.Confirms("n1", Log(), unreachable, Now, Interval));
        Assert.False(LeaseFailsafe.Confirms("n1", Log(), stale, Now, Interval));
        Assert.False(LeaseFailsafe.Confirms("n1", Log(), missing, Now, Interval));
        Assert.False(LeaseFailsafe.Confirms("n1", null, missing, Now, Interval));
    }
}
