using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Tests.State;

/// <summary>Members join and leave through the log: what may be recorded, and what the state keeps of it.</summary>
public sealed class changing_the_members
{
    private static readonly Initiator Alice = Initiator.User("alice");

    private static NodeLeft Leave(string node) => new(node, "decommissioned") { By = Alice, CorrelationId = "leave" };

    [Fact]
    public void a_joined_node_is_a_replica_with_its_gossip_port()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new NodeJoined(new NodeSpec("n4", "10.0.0.4", 5432, FailoverPriority: 2, GossipPort: 7500)) { By = Initiator.Agent("n4"), CorrelationId = "join" });
        var n4 = scenario.State.Nodes["n4"];
        Assert.Equal((NodeRole.Replica, "10.0.0.4", 5432, 7500, 2), (n4.Role, n4.Host, n4.Port, n4.GossipPort, n4.FailoverPriority));
        Assert.Equal(7500, ClusterState.Replay(scenario.History).Nodes["n4"].GossipPort);
    }

    [Fact]
    public void a_node_cannot_join_at_another_members_address()
    {
        var state = Scenario.Bootstrapped().State;
        Assert.Equal("127.0.0.1:5502 is already member n2's address in cluster demo",
            state.Check(new NodeJoined(new NodeSpec("n4", "127.0.0.1", 5502)) { By = Initiator.Agent("n4"), CorrelationId = "join" }));
    }

    [Fact]
    public void the_primary_an_unknown_node_and_a_node_in_a_switchover_cannot_leave()
    {
        var scenario = Scenario.Bootstrapped();
        Assert.Equal("n1 is the primary: switch over to another node before removing it", scenario.State.Check(Leave("n1")));
        Assert.Equal("unknown node 'n9' in cluster demo (members: n1, n2, n3)", scenario.State.Check(Leave("n9")));
        scenario.Append(new SwitchoverRequested("s1", "n1", "n3", null) { By = Alice, CorrelationId = "s1" });
        Assert.Equal("n3 takes part in switchover s1: wait until it ends or cancel it", scenario.State.Check(Leave("n3")));
        Assert.Null(scenario.State.Check(Leave("n2")));
    }

    [Fact]
    public void a_node_that_left_takes_its_pending_directives_with_it_and_may_join_again()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new DirectiveIssued("d1", "n3", DirectiveKind.Repoint, 1, 1, DateTimeOffset.MaxValue, new Repoint("n1")) { By = Scenario.Coordinator, CorrelationId = "r" });
        scenario.Append(Leave("n3"));
        Assert.Equal(["n1", "n2"], scenario.State.Nodes.Keys);
        Assert.Empty(scenario.State.PendingDirectives);
        Assert.Equal("directive d1 is not pending (unknown, or already answered)",
            scenario.State.Check(new DirectiveSucceeded("d1", "n2", TimeSpan.Zero, "") { By = Initiator.Agent("n2"), CorrelationId = "r" }));

        scenario.Append(new NodeJoined(new NodeSpec("n3", "127.0.0.1", 5503)) { By = Initiator.Agent("n3"), CorrelationId = "again" });
        Assert.Equal(NodeRole.Replica, scenario.State.Nodes["n3"].Role);
    }
}
