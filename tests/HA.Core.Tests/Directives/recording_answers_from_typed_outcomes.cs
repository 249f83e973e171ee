using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Parameters;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Directives;

/// <summary>What an agent's answer records is decided from its typed outcome: rewording the sentence changes nothing.</summary>
public sealed class recording_answers_from_typed_outcomes
{
    private static (Scenario Scenario, PendingDirective Pending) Pending(string node, Directive directive, string correlation = "c")
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new DirectiveIssued("d1", node, directive.Kind, 1, 7, DateTimeOffset.MaxValue, directive) { By = Scenario.Coordinator, CorrelationId = correlation }, 7);
        return (scenario, scenario.State.PendingDirectives["d1"]);
    }

    private static IReadOnlyList<ClusterEvent> Answer(Scenario scenario, PendingDirective pending, string detail, DirectiveOutcome outcome) =>
        DirectiveAnswers.Record(scenario.State, pending, new DirectiveSucceeded("d1", pending.Node, TimeSpan.FromSeconds(3), detail, outcome) { By = Initiator.Agent(pending.Node), CorrelationId = "c" });

    [Theory]
    [InlineData("rewound; following n1")]
    [InlineData("pg_rewind failed (x); reinitialized from n1 instead")]
    [InlineData("n2 is back")]
    public void a_rewind_is_recorded_by_the_method_its_outcome_names_whatever_its_sentence_says(string detail)
    {
        var (scenario, pending) = Pending("n2", new Rewind("n1"));
        Assert.Equal("rewind", Assert.IsType<NodeRejoined>(Answer(scenario, pending, detail, new Rejoined(RejoinMethod.Rewind, "n1"))[1]).Method);
        Assert.Equal("reinitialize", Assert.IsType<NodeRejoined>(Answer(scenario, pending, detail, new Rejoined(RejoinMethod.Reinitialize, "n1", "x"))[1]).Method);
    }

    [Theory]
    [InlineData("synchronous_standby_names = 'ANY 1 (n2)' in effect at 0/4000000")]
    [InlineData("now waiting for ANY 1 (n2) since 0/1")]
    public void what_the_primary_applied_is_recorded_from_the_outcome_whatever_its_sentence_says(string detail)
    {
        var (scenario, pending) = Pending("n1", new ApplySynchronousStandbys("ANY 1 (n2)"));
        var events = Answer(scenario, pending, detail, new SynchronousStandbysSet("ANY 1 (n2)", "0/4000000"));
        var applied = Assert.IsType<SynchronousStandbysApplied>(events[1]);
        Assert.Equal(("n1", "ANY 1 (n2)", "0/4000000"), (applied.Node, applied.Value, applied.Lsn));
        Assert.Equal(detail, Assert.IsType<DirectiveSucceeded>(events[0]).Detail);
    }

    [Fact]
    public void a_former_primarys_late_synchronous_answer_is_recorded_as_an_answer_only()
    {
        var (scenario, pending) = Pending("n2", new ApplySynchronousStandbys(""));
        Assert.Single(Answer(scenario, pending, "done", new SynchronousStandbysSet("", "0/4000000")));
    }

    [Theory]
    [InlineData("applied; parameters version 1; pending restart: none")]
    [InlineData("parameters reloaded")]
    public void what_a_node_runs_with_is_recorded_from_the_outcome_whatever_its_sentence_says(string detail)
    {
        var scenario = Scenario.Bootstrapped().Append(new PostgresParametersChanged(new Dictionary<string, string?> { ["max_connections"] = "200" }, ["max_connections"]) { By = Initiator.User("bob"), CorrelationId = "p" });
        scenario.Append(new DirectiveIssued("d1", "n2", DirectiveKind.ApplyConfig, 1, 7, DateTimeOffset.MaxValue, ParameterDirective.For(scenario.State)) { By = Scenario.Coordinator, CorrelationId = "c" }, 7);
        var events = Answer(scenario, scenario.State.PendingDirectives["d1"], detail, new ParametersSet(2, ["max_connections"]));
        var applied = Assert.IsType<ParametersApplied>(events[1]);
        Assert.Equal(("n2", 2L), (applied.Node, applied.ParametersVersion));
        Assert.Equal(["max_connections"], applied.PendingRestart);

        scenario.Append(new DirectiveIssued("d2", "n3", DirectiveKind.Restart, 1, 7, DateTimeOffset.MaxValue, new Restart(2)) { By = Scenario.Coordinator, CorrelationId = "c" }, 7);
        var restarted = DirectiveAnswers.Record(scenario.State, scenario.State.PendingDirectives["d2"],
            new DirectiveSucceeded("d2", "n3", TimeSpan.FromSeconds(3), detail, new Restarted(2, "n1", [])) { By = Initiator.Agent("n3"), CorrelationId = "c" });
        Assert.Equal((2L, 0), (Assert.IsType<ParametersApplied>(restarted[1]).ParametersVersion, ((ParametersApplied)restarted[1]).PendingRestart.Count));
    }

    [Fact]
    public void a_failed_answer_records_only_the_failure()
    {
        var (scenario, pending) = Pending("n2", new Rewind("n1"));
        var failed = new DirectiveFailed("d1", "n2", TimeSpan.FromSeconds(1), "reinitialized nothing: pg_basebackup failed") { By = Initiator.Agent("n2"), CorrelationId = "c" };
        Assert.Equal([failed], DirectiveAnswers.Record(scenario.State, pending, failed));
    }

    [Theory]
    [InlineData("demoted at final LSN 0/1000000; following n2")]
    [InlineData("stopped cleanly")]
    public void a_switchover_promotes_after_the_final_lsn_of_the_demoted_outcome_whatever_its_sentence_says(string detail)
    {
        var scenario = Scenario.Bootstrapped().Append(new SwitchoverRequested("sw1", "n1", "n2", null) { By = Initiator.User("alice"), CorrelationId = "sw1" });
        scenario.Append(new DirectiveIssued("c1", "n1", DirectiveKind.Checkpoint, 2, 7, DateTimeOffset.MaxValue, new Checkpoint()) { By = Scenario.Coordinator, CorrelationId = "sw1" }, 7);
        scenario.Append(new DirectiveSucceeded("c1", "n1", TimeSpan.Zero, "checkpoint done", new Checkpointed()) { By = Initiator.Agent("n1"), CorrelationId = "sw1" });
        scenario.Append(new DirectiveIssued("d1", "n1", DirectiveKind.Demote, 2, 7, DateTimeOffset.MaxValue, new Demote("n2")) { By = Scenario.Coordinator, CorrelationId = "sw1" }, 7);
        scenario.Append(new DirectiveSucceeded("d1", "n1", TimeSpan.Zero, detail, new Demoted("0/5000200", "n2")) { By = Initiator.Agent("n1"), CorrelationId = "sw1" });
        var context = new CoordinatorContext("n3", 7, DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(30), () => "p1") { PromoteSynchronousStandbyNames = "" };
        var decision = SwitchoverSteps.Next(scenario.State, new SwitchoverEvidence(true, true, true, Lsn.Parse("0/5000000"), null), 1 << 20, context);
        Assert.Equal(new Promote("", "0/5000200"), Assert.IsType<DirectiveIssued>(Assert.Single(decision.Events)).Directive);
        Assert.Contains("final LSN 0/5000200", decision.Why, StringComparison.Ordinal);
    }
}
