using HA.Core.Agent;
using HA.Core.State;
using static HA.Core.Tests.Agent.AgentScene;

namespace HA.Core.Tests.Agent;

/// <summary>A standby, a replica whose server is down, a former primary, a detached node: what their agents do on their own.</summary>
public sealed class a_node_that_is_not_the_primary
{
    [Fact]
    public void a_running_standby_gives_up_a_lease_it_still_holds()
    {
        var demoted = Primary(ServerSeen.Standby) with { Log = Log(new MemberSeen(NodeRole.Replica), primary: "n2", primaryTerm: 4) };

        Assert.IsType<AgentAction.ReleaseLease>(AgentPolicy.Decide(demoted));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(demoted with { HoldsLease = false }));
    }

    [Fact]
    public void the_primary_keeps_its_lease_while_its_server_is_in_recovery()
    {
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(Primary(ServerSeen.Standby)));
    }

    [Fact]
    public void a_former_primary_waits_to_be_rewound()
    {
        var facts = Primary(DownFor(600)) with { Log = Log(new MemberSeen(NodeRole.FormerPrimary), primary: "n2", primaryTerm: 4) };

        var action = AgentPolicy.Decide(facts);

        Assert.Equal(new AgentAction.WaitForRejoin("n2"), action);
        Assert.Equal("former primary: waiting to be rejoined to n2 (rewind)", action.Reason);
    }

    [Fact]
    public void a_detached_node_is_left_alone()
    {
        var detachedReplica = Replica(DownFor(600)) with { Log = Log(new MemberSeen(NodeRole.Replica, Detached: true, DetachedReason: "disk swap")) };
        var detachedWithoutData = detachedReplica with { DataDirectory = DataDirectoryState.Empty };

        Assert.Equal(new AgentAction.LeaveDetached("disk swap"), AgentPolicy.Decide(detachedReplica));
        Assert.Equal(new AgentAction.LeaveDetached("disk swap"), AgentPolicy.Decide(detachedWithoutData));
        Assert.Equal("detached for maintenance (disk swap): PostgreSQL left as it is", AgentPolicy.Decide(detachedReplica).Reason);
    }

    [Fact]
    public void a_crashed_standby_is_restarted_in_place_every_few_seconds()
    {
        var facts = Replica(DownFor(1)) with { LastStartAttempt = Now.AddSeconds(-3.1) };

        Assert.IsType<AgentAction.StartStandby>(AgentPolicy.Decide(facts));
        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts with { LastStartAttempt = Now.AddSeconds(-2.9) }));
    }

    [Fact]
    public void a_replica_without_data_takes_a_base_backup_from_the_primary()
    {
        var facts = Replica(DownFor(1)) with { DataDirectory = DataDirectoryState.Empty };

        var action = AgentPolicy.Decide(facts);

        Assert.Equal(new AgentAction.CloneFromPrimary("n1"), action);
    }

    [Fact]
    public void an_interrupted_base_backup_is_taken_again()
    {
        var facts = Replica(DownFor(1)) with { DataDirectory = DataDirectoryState.BaseBackupInterrupted };

        Assert.Equal(new AgentAction.CloneFromPrimary("n1"), AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_base_backup_waits_for_the_agents_loop_and_for_the_last_attempt_to_age()
    {
        var facts = Replica(DownFor(1)) with { DataDirectory = DataDirectoryState.Empty };

        Assert.Equal(new AgentAction.WaitForBaseBackup("n1"), AgentPolicy.Decide(facts with { Looping = false }));
        Assert.Equal(new AgentAction.WaitForBaseBackup("n1"), AgentPolicy.Decide(facts with { LastStartAttempt = Now.AddSeconds(-2) }));
        Assert.Equal("no data directory yet: a base backup from n1 follows", AgentPolicy.Decide(facts with { Looping = false }).Reason);
    }

    [Fact]
    public void a_replica_without_data_and_no_primary_waits_for_one()
    {
        var facts = Replica(DownFor(1)) with { DataDirectory = DataDirectoryState.Empty, Log = Log(new MemberSeen(NodeRole.Replica), primary: null) };

        Assert.IsType<AgentAction.WaitForAPrimary>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_data_directory_holding_something_else_is_never_touched()
    {
        var facts = Replica(DownFor(60)) with { DataDirectory = DataDirectoryState.Unrecognized };

        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void the_primary_without_data_is_not_given_a_base_backup()
    {
        var facts = Primary(DownFor(60)) with { DataDirectory = DataDirectoryState.Empty };

        Assert.IsType<AgentAction.WaitForFailover>(AgentPolicy.Decide(facts));
    }
}
