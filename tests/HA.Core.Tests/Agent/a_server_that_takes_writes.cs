using HA.Core.Agent;
using HA.Core.State;
using static HA.Core.Tests.Agent.AgentScene;

namespace HA.Core.Tests.Agent;

/// <summary>One writer (DESIGN §3.1): a server takes writes only while the log names it and its agent holds the primary lease.</summary>
public sealed class a_server_that_takes_writes
{
    [Fact]
    public void a_server_accepting_writes_while_the_log_names_another_primary_is_fenced()
    {
        var facts = Replica(ServerSeen.Primary) with { Log = Log(new MemberSeen(NodeRole.Replica), primary: "n1", primaryTerm: 4) with { Term = 5 } };

        var action = AgentPolicy.Decide(facts);

        Assert.Equal(new AgentAction.FenceBecauseLogNamesAnotherPrimary("n1", 4, 5), action);
        Assert.Equal("PostgreSQL accepts writes but n1 is the primary of term 4", action.Reason);
    }

    [Fact]
    public void the_fence_the_log_asks_for_waits_for_no_lease_store()
    {
        var facts = Replica(ServerSeen.Primary);

        Assert.False(AgentPolicy.ReadsLease(facts));
        Assert.IsType<AgentAction.FenceBecauseLogNamesAnotherPrimary>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_server_accepting_writes_while_the_log_names_no_primary_is_fenced()
    {
        var facts = Replica(ServerSeen.Primary) with { Log = Log(new MemberSeen(NodeRole.Replica), primary: null) };

        Assert.IsType<AgentAction.FenceBecauseLogNamesAnotherPrimary>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_node_promoted_in_a_newer_term_than_the_log_knows_is_not_fenced()
    {
        var facts = Replica(ServerSeen.Primary) with { PromotedInTerm = 4, HoldsLease = true };

        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_node_promoted_in_the_logs_primary_term_or_before_is_fenced()
    {
        var facts = Replica(ServerSeen.Primary) with { PromotedInTerm = 3, HoldsLease = true };

        Assert.IsType<AgentAction.FenceBecauseLogNamesAnotherPrimary>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_primary_whose_lease_is_held_elsewhere_fences_itself()
    {
        var facts = Primary(ServerSeen.Primary) with { HoldsLease = false };
        Assert.True(AgentPolicy.ReadsLease(facts));

        var action = AgentPolicy.Decide(facts with { Lease = new LeaseReading.HeldBy("n2") });

        Assert.Equal(new AgentAction.FenceBecauseLeaseHeldElsewhere("n2", 3), action);
        Assert.Equal("the primary lease is held by n2", action.Reason);
    }

    [Fact]
    public void a_newly_promoted_node_whose_lease_is_held_elsewhere_fences_itself()
    {
        var facts = Replica(ServerSeen.Primary) with { PromotedInTerm = 4, Lease = new LeaseReading.HeldBy("n1") };

        Assert.IsType<AgentAction.FenceBecauseLeaseHeldElsewhere>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_primary_without_the_lease_takes_it_when_it_is_free()
    {
        var facts = Primary(ServerSeen.Primary) with { HoldsLease = false, Lease = new LeaseReading.Free() };

        Assert.IsType<AgentAction.TakeLease>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_primary_whose_lease_store_still_names_it_is_not_fenced_and_waits_for_the_old_grant_to_expire()
    {
        var facts = Primary(ServerSeen.Primary) with { HoldsLease = false, Lease = new LeaseReading.HeldBy("n1") };

        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_primary_that_cannot_read_the_lease_store_is_left_to_its_lease_keeper()
    {
        var facts = Primary(ServerSeen.Primary) with { HoldsLease = false, Lease = new LeaseReading.StoreUnavailable("connection refused") };

        var action = AgentPolicy.Decide(facts);

        Assert.Equal(new AgentAction.Nothing("cannot read the primary lease: connection refused"), action);
    }

    [Fact]
    public void a_primary_holding_its_lease_keeps_a_slot_for_every_member()
    {
        var facts = Primary(ServerSeen.Primary);

        Assert.False(AgentPolicy.ReadsLease(facts));
        var keep = Assert.IsType<AgentAction.KeepSlots>(AgentPolicy.Decide(facts));
        Assert.Equal(3, keep.PrimaryTerm);
        Assert.Equal(["n1", "n2", "n3"], keep.Members);
    }
}
