using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Failover;

public sealed class detecting_a_lost_primary
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private static readonly DetectionSettings Settings = new() { FailureTimeout = TimeSpan.FromSeconds(3), PrimaryRestartTimeout = TimeSpan.FromSeconds(10) };

    private static PrimaryObservation Unreachable(string observer, double forSeconds) => new(observer, false, Now.AddSeconds(-forSeconds), "connection refused");

    private static PrimaryObservation Reachable(string observer) => new(observer, true, null, "ok");

    [Fact]
    public void a_healthy_primary_holding_its_lease_is_not_lost()
    {
        var verdict = FailureDetector.JudgePrimary(Scenario.Bootstrapped(5).State, new PrimaryEvidence(null, "n1", [Reachable("n2"), Reachable("n3")]), Settings, Now);
        Assert.False(verdict.Lost);
    }

    [Fact]
    public void one_observer_that_cannot_reach_it_is_a_blip_not_a_failure()
    {
        var verdict = FailureDetector.JudgePrimary(Scenario.Bootstrapped(5).State,
            new PrimaryEvidence(null, "n1", [Unreachable("n2", 60), Reachable("n3"), Reachable("n4"), Reachable("n5")]), Settings, Now);
        Assert.False(verdict.Lost);
    }

    [Fact]
    public void a_majority_of_observers_failing_for_failure_timeout_loses_it()
    {
        var state = Scenario.Bootstrapped(5).State;
        var notYet = FailureDetector.JudgePrimary(state, new PrimaryEvidence(null, "n1", [Unreachable("n2", 5), Unreachable("n3", 5), Unreachable("n4", 1)]), Settings, Now);
        Assert.False(notYet.Lost);

        var verdict = FailureDetector.JudgePrimary(state, new PrimaryEvidence(null, "n1", [Unreachable("n2", 5), Unreachable("n3", 5), Unreachable("n4", 3), Reachable("n5")]), Settings, Now);
        Assert.Equal("n1 unreachable from 3 of 4 observers (n2, n3, n4) for failure_timeout (3 s)", verdict.Trigger);
        Assert.Equal(FailureTrigger.Unreachable, verdict.TriggerKind);
        Assert.Null(notYet.TriggerKind);
        Assert.Equal(4, verdict.Observations.Count);
        Assert.All(verdict.Observations, o => Assert.Equal("n1", o.Target));
    }

    [Fact]
    public void an_expired_primary_lease_loses_it_at_once()
    {
        var verdict = FailureDetector.JudgePrimary(Scenario.Bootstrapped().State, new PrimaryEvidence(null, null, [Reachable("n2"), Reachable("n3")]), Settings, Now);
        Assert.Equal("the primary lease of n1 expired", verdict.Trigger);
        Assert.Equal(FailureTrigger.LeaseExpired, verdict.TriggerKind);
    }

    [Fact]
    public void its_own_agent_reporting_it_down_waits_for_the_restart_timeout()
    {
        var state = Scenario.Bootstrapped().State;
        Assert.False(FailureDetector.JudgePrimary(state, new PrimaryEvidence(Now.AddSeconds(-4), "n1", []), Settings, Now).Lost);
        var verdict = FailureDetector.JudgePrimary(state, new PrimaryEvidence(Now.AddSeconds(-10), "n1", []), Settings, Now);
        Assert.Equal("agent of n1 reports PostgreSQL down for 10 s and restarting it did not succeed within primary_restart_timeout (10 s)", verdict.Trigger);
        Assert.Equal(FailureTrigger.PostgresDown, verdict.TriggerKind);

        var failFast = FailureDetector.JudgePrimary(state, new PrimaryEvidence(Now, "n1", []), Settings with { PrimaryRestartTimeout = TimeSpan.Zero }, Now);
        Assert.True(failFast.Lost);
    }

    [Fact]
    public void observers_failing_to_reach_it_do_not_cut_short_a_restart_in_place_by_its_own_agent()
    {
        var state = Scenario.Bootstrapped().State;
        var restarting = FailureDetector.JudgePrimary(state, new PrimaryEvidence(Now.AddSeconds(-5), "n1", [Unreachable("n2", 5), Unreachable("n3", 5)]), Settings, Now);
        Assert.False(restarting.Lost);

        var agentSilent = FailureDetector.JudgePrimary(state, new PrimaryEvidence(null, "n1", [Unreachable("n2", 5), Unreachable("n3", 5)]), Settings, Now);
        Assert.True(agentSilent.Lost);
    }

    [Fact]
    public void a_primary_lease_held_by_another_node_or_no_primary_at_all_loses_it()
    {
        var elsewhere = FailureDetector.JudgePrimary(Scenario.Bootstrapped().State, new PrimaryEvidence(null, "n2", []), Settings, Now);
        Assert.Equal(("the primary lease is held by n2, not by n1", FailureTrigger.LeaseHeldElsewhere), (elsewhere.Trigger, elsewhere.TriggerKind));

        var none = FailureDetector.JudgePrimary(new HA.Core.State.ClusterState(), new PrimaryEvidence(null, null, []), Settings, Now);
        Assert.Equal(("the cluster has no primary", FailureTrigger.NoPrimary), (none.Trigger, none.TriggerKind));
    }
}
