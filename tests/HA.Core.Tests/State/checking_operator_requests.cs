using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Tests.State;

/// <summary>What an operator may ask of a cluster, checked before anything is recorded.</summary>
public sealed class checking_operator_requests
{
    private static readonly Initiator Alice = Initiator.User("alice");

    private static FailoverRequested Failover(string to, bool force = false) => new("f1", to, false, force) { By = Alice, CorrelationId = "f1" };

    [Fact]
    public void a_manual_failover_is_refused_to_the_primary_to_an_unknown_or_detached_node_and_while_paused_without_force()
    {
        var scenario = Scenario.Bootstrapped();
        Assert.Equal("n1 is the primary being replaced", scenario.State.Check(Failover("n1")));
        Assert.Equal("unknown node 'n9' in cluster demo (members: n1, n2, n3)", scenario.State.Check(Failover("n9")));
        scenario.Append(new NodeDetached("n3", "disk swap") { By = Alice, CorrelationId = "d" });
        Assert.Equal("n3 is detached for maintenance (disk swap)", scenario.State.Check(Failover("n3")));
        scenario.Append(new FailoverPaused("night") { By = Alice, CorrelationId = "p" });
        Assert.Equal("cluster demo is paused (night): add --force to fail over anyway", scenario.State.Check(Failover("n2")));
        Assert.Null(scenario.State.Check(Failover("n2", force: true)));
    }

    [Fact]
    public void a_refused_manual_failover_leaves_nothing_pending()
    {
        var scenario = Scenario.Bootstrapped().Append(Failover("n2"));
        Assert.Equal("a failover to n2 was already requested (f1)", scenario.State.Check(new FailoverRequested("f2", "n3", false, false) { By = Alice, CorrelationId = "f2" }));
        scenario.Append(new FailoverFailed("f1", 1, "the primary n1 is healthy", TimeSpan.Zero) { By = Initiator.Coordinator("n2"), CorrelationId = "f1" });
        Assert.Null(scenario.State.RequestedFailover);
        Assert.Null(scenario.State.Failover);
    }

    [Fact]
    public void the_primary_cannot_be_detached_and_a_node_not_detached_cannot_be_attached()
    {
        var state = Scenario.Bootstrapped().State;
        Assert.Equal("n1 is the primary: switch over to another node before detaching it", state.Check(new NodeDetached("n1", "x") { By = Alice, CorrelationId = "d" }));
        Assert.Equal("n2 is not detached", state.Check(new NodeAttached("n2") { By = Alice, CorrelationId = "a" }));
    }

    [Fact]
    public void a_reinitialize_is_refused_for_the_primary_a_detached_node_and_twice_and_cleared_when_the_node_rejoined()
    {
        static ReinitializeRequested Reinitialize(string node) => new(node, "corruption") { By = Alice, CorrelationId = "r" };
        var scenario = Scenario.Bootstrapped();
        Assert.Equal("n1 is the primary: switch over to another node before reinitializing it", scenario.State.Check(Reinitialize("n1")));
        scenario.Append(new NodeDetached("n3", "disk swap") { By = Alice, CorrelationId = "d" });
        Assert.Equal("n3 is detached for maintenance (disk swap): attach it first, its agent leaves a detached node's PostgreSQL alone", scenario.State.Check(Reinitialize("n3")));
        scenario.Append(Reinitialize("n2"));
        Assert.Equal("n2 is already being reinitialized (corruption)", scenario.State.Check(Reinitialize("n2")));
        scenario.Append(new NodeRejoined("n2", "reinitialize", 1, TimeSpan.FromSeconds(3)) { By = Initiator.Agent("n2"), CorrelationId = "r" });
        Assert.Null(scenario.State.Nodes["n2"].ReinitializeRequested);
        Assert.Null(scenario.State.Check(Reinitialize("n2")));
    }
}
