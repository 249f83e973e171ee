using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Failover;

public sealed class stepping_through_a_switchover
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private static readonly SwitchoverEvidence Ready = new(true, true, true, Lsn.Parse("0/5000000"), Lsn.Parse("0/5000100"));
    private int _ids;

    private CoordinatorContext Coordinator(double seconds = 0) => new("n3", 7, T0.AddSeconds(seconds), TimeSpan.FromSeconds(30), () => $"id{++_ids}");

    private static Scenario Requested(DateTimeOffset? at = null) =>
        Scenario.Bootstrapped().Append(new SwitchoverRequested("sw1", "n1", "n2", at) { By = Initiator.User("alice"), CorrelationId = "sw1" });

    private static void Apply(Scenario scenario, Decision decision)
    {
        foreach (var e in decision.Events) scenario.Append(e, 7);
    }

    private static void Answer(Scenario scenario, DirectiveKind kind, string detail = "done", bool success = true, DirectiveOutcome? outcome = null)
    {
        var directive = scenario.State.PendingDirectives.Values.Single(d => d.Kind == kind);
        scenario.Append(success
            ? new DirectiveSucceeded(directive.DirectiveId, directive.Node, TimeSpan.FromMilliseconds(200), detail, outcome) { By = Initiator.Agent(directive.Node), CorrelationId = "sw1" }
            : new DirectiveFailed(directive.DirectiveId, directive.Node, TimeSpan.FromMilliseconds(200), detail) { By = Initiator.Agent(directive.Node), CorrelationId = "sw1" });
    }

    [Fact]
    public void checkpoint_then_clean_demote_then_promote_after_the_final_lsn_and_the_old_primary_follows_without_a_rewind()
    {
        var scenario = Requested();
        Apply(scenario, SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator()));
        Assert.Equal((DirectiveKind.Checkpoint, "n1", 2L), scenario.State.PendingDirectives.Values.Select(d => (d.Kind, d.Node, d.Term)).Single());
        Assert.Equal("waiting for CHECKPOINT on n1", SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(1)).Why);
        Answer(scenario, DirectiveKind.Checkpoint);

        Apply(scenario, SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(2)));
        Assert.Equal((DirectiveKind.Demote, "n1"), scenario.State.PendingDirectives.Values.Select(d => (d.Kind, d.Node)).Single());
        Answer(scenario, DirectiveKind.Demote, "demoted", outcome: new Demoted("0/5000200", "n2"));

        var promote = SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(3));
        var issued = Assert.IsType<DirectiveIssued>(Assert.Single(promote.Events));
        Assert.Equal((DirectiveKind.Promote, "n2", "0/5000200"), (issued.Kind, issued.Node, ((Promote)issued.Directive).AfterLsn));
        Apply(scenario, promote);
        Answer(scenario, DirectiveKind.Promote);

        Apply(scenario, SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(4)));
        var state = scenario.State;
        Assert.Equal(("n2", 2L, 2), (state.Primary, state.PrimaryTerm, state.Timeline));
        Assert.Equal(NodeRole.Replica, state.Nodes["n1"].Role); // rejoined by demotion: nothing to rewind
        Assert.Null(state.Switchover);
        Assert.Equal(("n3", DirectiveKind.Repoint), state.PendingDirectives.Values.Select(d => (d.Node, d.Kind)).Single());
        var completed = scenario.History.Select(h => h.Event).OfType<SwitchoverCompleted>().Single();
        Assert.Equal(("n1", "n2"), (completed.From, completed.To));
        Assert.NotNull(completed.WritePause);
    }

    [Fact]
    public void a_scheduled_switchover_waits_for_its_time()
    {
        var scenario = Requested(at: T0.AddMinutes(10));
        Assert.StartsWith("switchover sw1 from n1 to n2 is scheduled at", SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator()).Why, StringComparison.Ordinal);
        Assert.Empty(SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(599)).Events);
        Assert.Single(SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(600)).Events);
    }

    [Fact]
    public void a_lagging_or_silent_target_is_refused_with_the_reason()
    {
        var lagging = Ready with { TargetReplayed = Lsn.Parse("0/4000000") };
        var refused = Assert.IsType<SwitchoverFailed>(Assert.Single(SwitchoverSteps.Next(Requested().State, lagging, 1 << 20, Coordinator()).Events));
        Assert.Equal("n2 lags 16777472 bytes behind n1, over switchover.max_lag (1048576)", refused.Reason);
        var silent = Assert.IsType<SwitchoverFailed>(Assert.Single(SwitchoverSteps.Next(Requested().State, Ready with { TargetFresh = false }, 1 << 20, Coordinator()).Events));
        Assert.Equal("no fresh report from n2's agent", silent.Reason);
    }

    [Fact]
    public void a_failed_demote_ends_the_switchover_with_the_agents_reason()
    {
        var scenario = Requested();
        Apply(scenario, SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator()));
        Answer(scenario, DirectiveKind.Checkpoint);
        Apply(scenario, SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(1)));
        Answer(scenario, DirectiveKind.Demote, "pg_ctl stop failed", success: false);
        var failed = Assert.IsType<SwitchoverFailed>(Assert.Single(SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator(2)).Events));
        Assert.Equal("DEMOTE of n1 failed: pg_ctl stop failed", failed.Reason);
    }

    [Theory]
    [InlineData("n1", "n9", "unknown node 'n9' in cluster demo (members: n1, n2, n3)")]
    [InlineData("n1", "n1", "n1 is already the primary")]
    [InlineData("n2", "n3", "n2 is not the primary (n1 is)")]
    public void a_request_the_state_does_not_allow_is_refused(string from, string to, string reason)
    {
        Assert.Equal(reason, Scenario.Bootstrapped().State.Check(new SwitchoverRequested("sw2", from, to, null) { By = Initiator.User("alice"), CorrelationId = "sw2" }));
    }

    [Fact]
    public void a_second_request_or_a_late_cancel_is_refused()
    {
        var scenario = Requested();
        Assert.Equal("switchover sw1 from n1 to n2 is already in progress", scenario.State.Check(new SwitchoverRequested("sw2", "n1", "n3", null) { By = Initiator.User("bob"), CorrelationId = "sw2" }));
        Apply(scenario, SwitchoverSteps.Next(scenario.State, Ready, 1 << 20, Coordinator()));
        Assert.Equal("switchover sw1 has started: it can no longer be cancelled", scenario.State.Check(new SwitchoverFailed("sw1", "cancelled by user bob") { By = Initiator.User("bob"), CorrelationId = "sw1" }));
    }
}
