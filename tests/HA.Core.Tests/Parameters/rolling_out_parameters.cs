using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Parameters;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Parameters;

/// <summary>The coordinator's parameter decisions: APPLY_CONFIG to every node behind, and a rolling restart step by step.</summary>
public sealed class rolling_out_parameters
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private int _ids;

    private CoordinatorContext Coordinator(double seconds = 0) => At(T0.AddSeconds(seconds));

    private CoordinatorContext At(DateTimeOffset now) => new("n3", 7, now, TimeSpan.FromSeconds(30), () => $"id{++_ids}");

    private static Dictionary<string, MemberReport> Streaming(string primary, params string[] nodes) =>
        nodes.ToDictionary(n => n, n => n == primary ? new MemberReport(true, false, null) : new MemberReport(true, true, primary), StringComparer.Ordinal);

    private static readonly Dictionary<string, MemberReport> AllUp = Streaming("n1", "n1", "n2", "n3");

    private static Scenario Changed(Dictionary<string, string?> changes, params string[] pending) =>
        Scenario.Bootstrapped().Append(new PostgresParametersChanged(changes, pending) { By = Initiator.User("bob"), CorrelationId = "p" });

    private static void Apply(Scenario scenario, Decision? decision)
    {
        Assert.NotNull(decision);
        Assert.NotEmpty(decision.Events);
        foreach (var e in decision.Events) scenario.Append(e, 7);
    }

    /// <summary>What DirectiveResults records for an agent's answer (<see cref="DirectiveAnswers"/>).</summary>
    private static void Answer(Scenario scenario, string node, DirectiveKind kind, DirectiveOutcome outcome) =>
        Record(scenario, node, kind, d => new DirectiveSucceeded(d.DirectiveId, node, TimeSpan.FromMilliseconds(50), "done", outcome) { By = Initiator.Agent(node), CorrelationId = d.CorrelationId! });

    private static void Failed(Scenario scenario, string node, DirectiveKind kind, string error) =>
        Record(scenario, node, kind, d => new DirectiveFailed(d.DirectiveId, node, TimeSpan.FromMilliseconds(50), error) { By = Initiator.Agent(node), CorrelationId = d.CorrelationId! });

    private static void Record(Scenario scenario, string node, DirectiveKind kind, Func<PendingDirective, ClusterEvent> answer)
    {
        var directive = scenario.State.PendingDirectives.Values.Single(d => d.Node == node && d.Kind == kind);
        foreach (var e in DirectiveAnswers.Record(scenario.State, directive, answer(directive))) scenario.Append(e);
    }

    [Fact]
    public void every_running_healthy_idle_node_behind_gets_the_whole_desired_set()
    {
        var scenario = Changed(new() { ["work_mem"] = "64MB" });
        scenario.Append(new DirectiveIssued("busy", "n2", DirectiveKind.Checkpoint, 1, 7, DateTimeOffset.MaxValue, new Checkpoint()) { By = Scenario.Coordinator, CorrelationId = "x" }, 7);
        var reports = new Dictionary<string, MemberReport>(AllUp);
        reports.Remove("n3"); // its agent is silent

        var decision = ParameterRollout.Next(scenario.State, reports, Coordinator());
        var issued = Assert.IsType<DirectiveIssued>(Assert.Single(decision!.Events));
        Assert.Equal((DirectiveKind.ApplyConfig, "n1", "parameters-v2"), (issued.Kind, issued.Node, issued.CorrelationId));
        Assert.Equal(new ApplyParameters(new Dictionary<string, string> { ["work_mem"] = "64MB" }, [], 2), issued.Directive);
        Apply(scenario, decision);
        Assert.Null(ParameterRollout.Next(scenario.State, reports, Coordinator(1))); // n1 busy now, n2 busy, n3 silent

        Answer(scenario, "n1", DirectiveKind.ApplyConfig, new ParametersSet(2, []));
        Answer(scenario, "n2", DirectiveKind.Checkpoint, new Checkpointed());
        var rest = ParameterRollout.Next(scenario.State, AllUp, Coordinator(2));
        Assert.Equal(["n2", "n3"], rest!.Events.OfType<DirectiveIssued>().Select(d => d.Node));
    }

    [Fact]
    public void a_node_whose_attempt_failed_waits_longer_each_time_and_a_detached_one_is_left_alone()
    {
        var scenario = Changed(new() { ["work_mem"] = "64MB" });
        scenario.Append(new NodeDetached("n3", "disk swap") { By = Initiator.User("bob"), CorrelationId = "d" });
        Apply(scenario, ParameterRollout.Next(scenario.State, AllUp, Coordinator()));
        Answer(scenario, "n1", DirectiveKind.ApplyConfig, new ParametersSet(2, []));
        Failed(scenario, "n2", DirectiveKind.ApplyConfig, "connection refused");

        var failedAt = scenario.State.Nodes["n2"].ParametersFailedAt!.Value;
        Assert.Null(ParameterRollout.Next(scenario.State, AllUp, At(failedAt.AddSeconds(4))));
        Apply(scenario, ParameterRollout.Next(scenario.State, AllUp, At(failedAt.AddSeconds(6))));
        Failed(scenario, "n2", DirectiveKind.ApplyConfig, "connection refused");
        Assert.Equal(2, scenario.State.Nodes["n2"].ParametersFailures);
        failedAt = scenario.State.Nodes["n2"].ParametersFailedAt!.Value;
        Assert.Null(ParameterRollout.Next(scenario.State, AllUp, At(failedAt.AddSeconds(9))));
        Assert.Single(ParameterRollout.Next(scenario.State, AllUp, At(failedAt.AddSeconds(11)))!.Events);
        Assert.Equal(TimeSpan.FromMinutes(5), ParameterRollout.Backoff(12));
    }

    [Fact]
    public void a_rolling_restart_restarts_the_replicas_one_at_a_time_then_switches_over_and_reads_the_old_primary_again()
    {
        var scenario = Changed(new() { ["max_connections"] = "200" }, "max_connections");
        Apply(scenario, ParameterRollout.Next(scenario.State, AllUp, Coordinator()));
        foreach (var node in new[] { "n1", "n2", "n3" }) Answer(scenario, node, DirectiveKind.ApplyConfig, new ParametersSet(2, ["max_connections"]));
        Assert.Null(ParameterRollout.Next(scenario.State, AllUp, Coordinator(1)));
        scenario.Append(new RollingRestartRequested("r1", "test") { By = Initiator.User("bob"), CorrelationId = "r1" });

        var first = ParameterRollout.Next(scenario.State, AllUp, Coordinator(2))!;
        var restart = Assert.IsType<DirectiveIssued>(Assert.Single(first.Events));
        Assert.Equal((DirectiveKind.Restart, "n2", "r1", new Restart(2)), (restart.Kind, restart.Node, restart.CorrelationId, restart.Directive));
        Apply(scenario, first);
        Assert.Equal("rolling restart r1: waiting for RESTART of n2", ParameterRollout.Next(scenario.State, AllUp, Coordinator(3))!.Why);
        Answer(scenario, "n2", DirectiveKind.Restart, new Restarted(2, "n1", []));

        var restarting = new Dictionary<string, MemberReport>(AllUp) { ["n2"] = new(true, true, null) };
        Assert.Equal("rolling restart r1: waiting for n2 to stream from n1 again after its restart", ParameterRollout.Next(scenario.State, restarting, Coordinator(4))!.Why);
        var second = ParameterRollout.Next(scenario.State, AllUp, Coordinator(5))!;
        Assert.Equal(("n3", DirectiveKind.Restart), second.Events.OfType<DirectiveIssued>().Select(d => (d.Node, d.Kind)).Single());
        Apply(scenario, second);
        Answer(scenario, "n3", DirectiveKind.Restart, new Restarted(2, "n1", []));

        var switchover = ParameterRollout.Next(scenario.State, AllUp, Coordinator(6))!;
        var requested = Assert.IsType<SwitchoverRequested>(Assert.Single(switchover.Events));
        Assert.Equal(("r1-switchover", "n1", "n2", "r1"), (requested.SwitchoverId, requested.From, requested.To, requested.CorrelationId));
        Apply(scenario, switchover);
        Assert.Equal(["n2", "n3"], scenario.State.RollingRestart!.Restarted);

        // The switchover runs (SwitchoverSteps); DEMOTE restarted n1 as a standby of n2.
        var by = Initiator.Coordinator("n3");
        scenario.Append(new PrimaryChanged(2, "n2", "n1", 2, "0/5000000") { By = by, CorrelationId = "r1-switchover" }, 7);
        scenario.Append(new NodeRejoined("n1", "demote", 2, TimeSpan.FromSeconds(1)) { By = by, CorrelationId = "r1-switchover" }, 7);
        scenario.Append(new SwitchoverCompleted("r1-switchover", "n1", "n2", TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1)) { By = by, CorrelationId = "r1-switchover" }, 7);

        var afterSwitch = Streaming("n2", "n1", "n2", "n3");
        var refresh = ParameterRollout.Next(scenario.State, afterSwitch, Coordinator(7))!;
        Assert.Equal(("n1", DirectiveKind.ApplyConfig, "r1"), refresh.Events.OfType<DirectiveIssued>().Select(d => (d.Node, d.Kind, d.CorrelationId)).Single());
        Apply(scenario, refresh);
        Answer(scenario, "n1", DirectiveKind.ApplyConfig, new ParametersSet(2, []));

        var done = ParameterRollout.Next(scenario.State, afterSwitch, Coordinator(8))!;
        var completed = Assert.IsType<RollingRestartCompleted>(Assert.Single(done.Events));
        Assert.Equal(["n2", "n3", "n1"], completed.Restarted);
        Apply(scenario, done);
        Assert.Null(scenario.State.RollingRestart);
        Assert.Empty(scenario.State.PendingRestart);
        Assert.Null(ParameterRollout.Next(scenario.State, afterSwitch, Coordinator(9)));
    }

    [Fact]
    public void a_rolling_restart_stops_with_the_reason_when_a_restart_fails_and_waits_while_paused()
    {
        var scenario = Changed(new() { ["shared_buffers"] = "64MB" }, "shared_buffers");
        Apply(scenario, ParameterRollout.Next(scenario.State, AllUp, Coordinator()));
        foreach (var node in new[] { "n1", "n2", "n3" }) Answer(scenario, node, DirectiveKind.ApplyConfig, new ParametersSet(2, ["shared_buffers"]));
        scenario.Append(new RollingRestartRequested("r1", "test") { By = Initiator.User("bob"), CorrelationId = "r1" });
        scenario.Append(new FailoverPaused("night") { By = Initiator.User("bob"), CorrelationId = "p" });
        Assert.Equal("rolling restart r1 waits: cluster demo is paused (night)", ParameterRollout.Next(scenario.State, AllUp, Coordinator(1))!.Why);
        scenario.Append(new FailoverResumed("day") { By = Initiator.User("bob"), CorrelationId = "p" });

        Apply(scenario, ParameterRollout.Next(scenario.State, AllUp, Coordinator(2)));
        Failed(scenario, "n2", DirectiveKind.Restart, "pg_ctl start failed for node n2: could not map shared memory");
        var failed = Assert.IsType<RollingRestartFailed>(Assert.Single(ParameterRollout.Next(scenario.State, AllUp, Coordinator(3))!.Events));
        Assert.Equal("RESTART of n2 failed: pg_ctl start failed for node n2: could not map shared memory", failed.Reason);
    }

    [Fact]
    public void a_primary_with_no_replica_to_take_over_is_not_restarted()
    {
        var scenario = Scenario.Bootstrapped(nodes: 1).Append(new PostgresParametersChanged(new Dictionary<string, string?> { ["max_connections"] = "200" }, ["max_connections"]) { By = Initiator.User("bob"), CorrelationId = "p" });
        var up = Streaming("n1", "n1");
        Apply(scenario, ParameterRollout.Next(scenario.State, up, Coordinator()));
        Answer(scenario, "n1", DirectiveKind.ApplyConfig, new ParametersSet(2, ["max_connections"]));
        scenario.Append(new RollingRestartRequested("r1", "test") { By = Initiator.User("bob"), CorrelationId = "r1" });
        var failed = Assert.IsType<RollingRestartFailed>(Assert.Single(ParameterRollout.Next(scenario.State, up, Coordinator(1))!.Events));
        Assert.Equal("the primary n1 needs a restart for max_connections but no restarted replica can take over from it", failed.Reason);
    }
}
