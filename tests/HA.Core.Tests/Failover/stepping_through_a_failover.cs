using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Failover;

public sealed class stepping_through_a_failover
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private static readonly PrimaryVerdict Lost = new("the primary lease of n1 expired", [new Observation("n2", "n1", false, "refused")]);
    private static readonly PrimaryVerdict Healthy = new(null, []);
    private int _ids;

    private CoordinatorContext Coordinator(string node = "n2", long token = 7, double seconds = 0) =>
        new(node, token, T0.AddSeconds(seconds), TimeSpan.FromSeconds(30), () => $"id{++_ids}");

    private static Func<CandidateChoice> Choose(ClusterState state, double seconds = 0) => () => FailoverPolicy.ChooseCandidate(state,
        new Dictionary<string, NodeReport>
        {
            ["n2"] = new("n2", NodeHealth.Healthy, true, Lsn.Parse("0/5000000"), Lsn.Parse("0/5000000"), T0.AddSeconds(seconds)),
            ["n3"] = new("n3", NodeHealth.Healthy, true, Lsn.Parse("0/4000000"), Lsn.Parse("0/4000000"), T0.AddSeconds(seconds)),
        }, Lsn.Parse("0/5000000"), new FailoverSettings { MaximumLagOnFailover = 1 << 30 }, T0.AddSeconds(seconds));

    private static Decision Apply(Scenario scenario, Decision decision, long token = 7)
    {
        foreach (var e in decision.Events) scenario.Append(e, token);
        return decision;
    }

    private static void Answer(Scenario scenario, DirectiveKind kind, bool success = true)
    {
        var directive = scenario.State.PendingDirectives.Values.Single(d => d.Kind == kind);
        scenario.Append(success
            ? new DirectiveSucceeded(directive.DirectiveId, directive.Node, TimeSpan.FromMilliseconds(300), "done") { By = Initiator.Agent(directive.Node), CorrelationId = scenario.State.Failover!.Id }
            : new DirectiveFailed(directive.DirectiveId, directive.Node, TimeSpan.FromMilliseconds(300), "pg_ctl promote failed") { By = Initiator.Agent(directive.Node), CorrelationId = scenario.State.Failover!.Id });
    }

    [Fact]
    public void a_lost_primary_is_fenced_then_the_best_replica_promoted_then_the_others_repointed()
    {
        var scenario = Scenario.Bootstrapped();
        Assert.Empty(FailoverSteps.Next(scenario.State, Healthy, Choose(scenario.State), "n1", Coordinator()).Events);

        var start = Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator()));
        Assert.Equal("failing over from n1 to n2 in term 2: the primary lease of n1 expired", start.Why);
        Assert.Equal((DirectiveKind.Fence, "n1"), scenario.State.PendingDirectives.Values.Select(d => (d.Kind, d.Node)).Single());

        Assert.Empty(FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 1)).Events);
        Answer(scenario, DirectiveKind.Fence);
        Assert.Equal("n1's agent acknowledged FENCE", Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 2))).Why);
        Assert.Null(RoutingTable.From(scenario.State, 1 << 24).Primary);

        Assert.Equal("promoting n2", Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 2))).Why);
        Assert.Equal("waiting for n2 to finish PROMOTE", FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 3)).Why);
        Answer(scenario, DirectiveKind.Promote);

        var done = Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), null, Coordinator(seconds: 4)));
        Assert.Equal("n2 is the primary of term 2; repointing the other replicas", done.Why);
        Assert.Equal(("n2", 2L), (scenario.State.Primary, scenario.State.Term));
        Assert.Null(scenario.State.Failover);
        Assert.Equal((DirectiveKind.Repoint, "n3"), scenario.State.PendingDirectives.Values.Select(d => (d.Kind, d.Node)).Single());
        Assert.Equal("n2", RoutingTable.From(scenario.State, 1 << 24).Primary?.Node);
        var completed = Assert.IsType<FailoverCompleted>(done.Events[^1]);
        var startedAt = scenario.History.Single(h => h.Event is FailoverStarted).Stamp.At;
        Assert.Equal(T0.AddSeconds(4) - startedAt, completed.Duration);
    }

    [Fact]
    public void a_new_coordinator_replaying_the_log_resumes_where_the_dead_one_stopped()
    {
        var scenario = Scenario.Bootstrapped();
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator()));
        Answer(scenario, DirectiveKind.Fence);
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 1)));
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 1)));
        // The coordinator n2 dies here, PROMOTE issued. n3 wins the lease with token 8 and replays the log.
        var replayed = ClusterState.Replay(scenario.History);
        var resumed = FailoverSteps.Next(replayed, Lost, Choose(replayed), null, Coordinator("n3", 8, seconds: 5));
        Assert.Equal("waiting for n2 to finish PROMOTE", resumed.Why);

        Answer(scenario, DirectiveKind.Promote);
        var finished = Apply(scenario, FailoverSteps.Next(ClusterState.Replay(scenario.History), Lost, Choose(scenario.State), null, Coordinator("n3", 8, seconds: 6)), token: 8);
        Assert.Equal("n2 is the primary of term 2; repointing the other replicas", finished.Why);
        Assert.Single(scenario.History, h => h.Event is FailoverStarted);
        Assert.Single(scenario.History, h => h.Event is DirectiveIssued { Kind: DirectiveKind.Promote });
    }

    [Fact]
    public void an_unacknowledged_fence_waits_for_the_primary_lease_to_expire()
    {
        var scenario = Scenario.Bootstrapped();
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator()));
        Answer(scenario, DirectiveKind.Fence, success: false);

        Assert.Equal("FENCE of n1 failed: pg_ctl promote failed; waiting for its primary lease to expire before promoting anyone",
            FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 5)).Why);
        var fenced = Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), null, Coordinator(seconds: 30)));
        Assert.Equal("n1 no longer holds the primary lease (expired or released): it can no longer accept writes", fenced.Why);
        Assert.Equal("its primary lease expired or was released", Assert.IsType<NodeFenced>(Assert.Single(fenced.Events)).How);
    }

    [Fact]
    public void paused_means_no_failover_and_no_candidate_means_none_either()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new FailoverPaused("maintenance") { By = Initiator.User("alice"), CorrelationId = "p" });
        var paused = FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), null, Coordinator());
        Assert.Empty(paused.Events);
        Assert.Equal("primary n1 is lost (the primary lease of n1 expired) but automatic failover is paused (maintenance)", paused.Why);

        var unpaused = Scenario.Bootstrapped();
        var none = FailoverSteps.Next(unpaused.State, Lost, () => FailoverPolicy.ChooseCandidate(unpaused.State, new Dictionary<string, NodeReport>(), null, new FailoverSettings(), T0), null, Coordinator());
        Assert.Empty(none.Events);
        Assert.Equal("primary n1 is lost (the primary lease of n1 expired) but no candidate qualifies: n1: it is the primary being replaced; n2: no report from its agent; n3: no report from its agent", none.Why);
    }

    [Fact]
    public void a_failed_promotion_ends_the_failover_and_the_next_one_takes_a_new_term()
    {
        var scenario = Scenario.Bootstrapped();
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator()));
        Answer(scenario, DirectiveKind.Fence);
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 1)));
        Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), "n1", Coordinator(seconds: 1)));
        Answer(scenario, DirectiveKind.Promote, success: false);

        var failed = Apply(scenario, FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), null, Coordinator(seconds: 2)));
        Assert.Equal("failover id1 failed: PROMOTE of n2 failed: pg_ctl promote failed", failed.Why);
        Assert.Null(scenario.State.Failover);

        var again = FailoverSteps.Next(scenario.State, Lost, Choose(scenario.State), null, Coordinator(seconds: 3));
        Assert.Equal(3, Assert.IsType<FailoverStarted>(again.Events[0]).Term);
    }
}
