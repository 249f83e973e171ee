using HA.Core.Agent;
using HA.Core.State;
using static HA.Core.Tests.Agent.AgentScene;

namespace HA.Core.Tests.Agent;

/// <summary>A primary whose PostgreSQL is down is restarted in place only while nobody is taking over (DESIGN §2, failover.primary_restart_timeout).</summary>
public sealed class a_crashed_primary
{
    [Fact]
    public void a_crashed_primary_restarts_in_place_within_primary_restart_timeout()
    {
        var action = AgentPolicy.Decide(Primary(DownFor(9.9)));

        Assert.Equal(new AgentAction.RestartPrimaryInPlace(PrimaryRestart.WithinRestartTimeout, TakeLeaseFirst: false, RestartTimeout), action);
        Assert.Equal("restarting the primary in place (primary_restart_timeout 10 s)", action.Reason);
    }

    [Fact]
    public void a_crashed_primary_past_primary_restart_timeout_releases_its_lease()
    {
        var action = AgentPolicy.Decide(Primary(DownFor(10)));

        Assert.Equal(new AgentAction.WaitForFailover(PrimaryNotRestarted.RestartTimeoutPassed, RestartTimeout), action);
        Assert.Equal("primary_restart_timeout 10 s passed", action.Reason);
    }

    [Fact]
    public void a_primary_restart_timeout_of_zero_never_restarts_a_crashed_primary()
    {
        var action = AgentPolicy.Decide(Primary(DownFor(0)) with { PrimaryRestartTimeout = TimeSpan.Zero });

        Assert.IsType<AgentAction.WaitForFailover>(action);
    }

    [Fact]
    public void a_primary_fenced_by_the_coordinator_is_not_restarted()
    {
        var fencedInTheLog = Primary(DownFor(1)) with { Log = Log(new MemberSeen(NodeRole.Primary, Fenced: true)) };
        var fencedByDirective = Primary(DownFor(1)) with { FencedInTerm = 3 };

        Assert.Equal(new AgentAction.WaitForFailover(PrimaryNotRestarted.FencedByCoordinator, RestartTimeout), AgentPolicy.Decide(fencedInTheLog));
        Assert.Equal(new AgentAction.WaitForFailover(PrimaryNotRestarted.FencedByCoordinator, RestartTimeout), AgentPolicy.Decide(fencedByDirective));
    }

    [Fact]
    public void a_primary_fenced_in_an_older_term_is_restarted()
    {
        var facts = Primary(DownFor(1)) with { FencedInTerm = 2 };

        Assert.IsType<AgentAction.RestartPrimaryInPlace>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_primary_is_not_restarted_while_a_failover_runs()
    {
        var facts = Primary(DownFor(1)) with { Log = Log(new MemberSeen(NodeRole.Primary), failover: true) };

        Assert.Equal(new AgentAction.WaitForFailover(PrimaryNotRestarted.FailoverRunning, RestartTimeout), AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_self_fenced_primary_restarts_once_it_holds_the_lease_again()
    {
        var facts = Primary(DownFor(60)) with { SelfFenced = true, HoldsLease = false };

        var action = AgentPolicy.Decide(facts);

        Assert.Equal(new AgentAction.RestartPrimaryInPlace(PrimaryRestart.LeaseHeldAgain, TakeLeaseFirst: true, RestartTimeout), action);
        Assert.Equal("restarting the primary: its lease is held again", action.Reason);
    }

    [Fact]
    public void a_self_fenced_primary_is_not_restarted_once_the_coordinator_fenced_it()
    {
        var facts = Primary(DownFor(60)) with { SelfFenced = true, HoldsLease = false, Log = Log(new MemberSeen(NodeRole.Primary, Fenced: true)) };

        Assert.IsType<AgentAction.WaitForFailover>(AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_lone_member_restarts_in_place_past_primary_restart_timeout()
    {
        var facts = Primary(DownFor(600)) with { Log = Log(new MemberSeen(NodeRole.Primary), members: ["n1"]) };

        Assert.Equal(new AgentAction.RestartPrimaryInPlace(PrimaryRestart.OnlyMember, TakeLeaseFirst: false, RestartTimeout), AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_crashed_primary_without_the_lease_restarts_only_after_taking_it()
    {
        var facts = Primary(DownFor(1)) with { HoldsLease = false };

        Assert.Equal(new AgentAction.RestartPrimaryInPlace(PrimaryRestart.WithinRestartTimeout, TakeLeaseFirst: true, RestartTimeout), AgentPolicy.Decide(facts));
    }

    [Fact]
    public void a_primary_started_less_than_a_second_ago_is_not_started_again()
    {
        var holding = Primary(DownFor(1)) with { LastStartAttempt = Now.AddMilliseconds(-900) };

        Assert.IsType<AgentAction.Nothing>(AgentPolicy.Decide(holding));
        Assert.IsType<AgentAction.TakeLease>(AgentPolicy.Decide(holding with { HoldsLease = false }));
        Assert.IsType<AgentAction.RestartPrimaryInPlace>(AgentPolicy.Decide(holding with { LastStartAttempt = Now.AddSeconds(-1.1) }));
    }
}
