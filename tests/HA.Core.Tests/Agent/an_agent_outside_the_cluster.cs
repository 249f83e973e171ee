using HA.Core.Agent;
using HA.Core.Events;
using HA.Core.State;
using HA.Core.Tests.State;
using static HA.Core.Tests.Agent.AgentScene;

namespace HA.Core.Tests.Agent;

/// <summary>Before the log exists, or when it does not name this node.</summary>
public sealed class an_agent_outside_the_cluster
{
    private static AgentFacts BeforeBootstrap(ServerSeen server) => Primary(server) with { Log = null, HoldsLease = false, WasMember = false };

    [Fact]
    public void before_bootstrap_a_node_with_data_starts_its_server_every_few_seconds()
    {
        var facts = BeforeBootstrap(DownFor(1));

        Assert.IsType<AgentAction.StartBeforeBootstrap>(AgentPolicy.Decide(facts));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts with { LastStartAttempt = Now.AddSeconds(-2) }));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts with { DataDirectory = DataDirectoryState.Empty }));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts with { DataDirectory = DataDirectoryState.BaseBackupInterrupted }));
    }

    [Fact]
    public void before_bootstrap_a_primary_takes_the_free_lease_and_fences_nobody()
    {
        var facts = BeforeBootstrap(ServerSeen.Primary);

        Assert.True(AgentPolicy.ReadsLease(facts));
        Assert.IsType<AgentAction.TakeLease>(AgentPolicy.Decide(facts with { Lease = new LeaseReading.Free() }));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts with { Lease = new LeaseReading.HeldBy("n2") }));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(BeforeBootstrap(ServerSeen.Standby)));
    }

    [Fact]
    public void a_node_the_log_does_not_name_joins_and_one_it_named_before_was_removed()
    {
        var facts = Replica(ServerSeen.Standby) with { Log = Log(me: null, members: ["n1", "n3"]), WasMember = false };

        Assert.Equal(new AgentAction.NotAMember(WasMember: false), AgentPolicy.Decide(facts));
        Assert.Equal(new AgentAction.NotAMember(WasMember: true), AgentPolicy.Decide(facts with { WasMember = true }));
        Assert.False(AgentPolicy.ReadsLease(facts with { Server = ServerSeen.Primary }));
    }

    [Fact]
    public void the_log_as_an_agent_reads_it()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new NodeDetached("n3", "disk swap") { By = Initiator.User("alice"), CorrelationId = "d" });

        var log = LogSeen.Of(scenario.State, "n3");

        Assert.Equal(("n1", 1L, false), (log.Primary, log.PrimaryTerm, log.FailoverRunning));
        Assert.Equal(["n1", "n2", "n3"], log.Members);
        Assert.Equal(new MemberSeen(NodeRole.Replica, Fenced: false, Detached: true, DetachedReason: "disk swap"), log.Me);
        Assert.Null(LogSeen.Of(scenario.State, "n4").Me);
    }
}
