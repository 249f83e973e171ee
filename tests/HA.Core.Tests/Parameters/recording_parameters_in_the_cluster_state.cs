using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Parameters;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Parameters;

/// <summary>The log keeps the desired parameters, their version, and what each node applied and has pending.</summary>
public sealed class recording_parameters_in_the_cluster_state
{
    private static readonly Initiator Bob = Initiator.User("bob");

    private static PostgresParametersChanged Change(Dictionary<string, string?> changes, params string[] pending) => new(changes, pending) { By = Bob, CorrelationId = "p" };

    private static ParametersApplied Applied(string node, long version, params string[] pending) => new(node, version, pending) { By = Initiator.Agent(node), CorrelationId = "a" };

    [Fact]
    public void a_change_is_refused_when_it_sets_a_managed_parameter_resets_one_not_set_or_changes_nothing()
    {
        var scenario = Scenario.Bootstrapped().Append(Change(new() { ["work_mem"] = "64MB" }));
        var state = scenario.State;
        Assert.Equal("port is managed by pgha: pgha sets it per node from pgha.yaml (node.host, node.port, node.data_dir)", state.Check(Change(new() { ["port"] = "6000" })));
        Assert.Equal("jit is not set through pgha: nothing to reset", state.Check(Change(new() { ["jit"] = null })));
        Assert.Equal("it changes nothing: work_mem is already '64MB'", state.Check(Change(new() { ["work_mem"] = "64MB" })));
        Assert.Equal("it lists shared_buffers as pending restart but does not change it", state.Check(Change(new() { ["work_mem"] = "1MB" }, "shared_buffers")));
        Assert.Equal("it changes no parameter", state.Check(Change([])));
    }

    [Fact]
    public void each_change_is_a_version_the_nodes_report_applying_with_what_they_have_pending()
    {
        var scenario = Scenario.Bootstrapped().Append(Change(new() { ["work_mem"] = "64MB", ["max_connections"] = "200" }, "max_connections"));
        var version = scenario.State.ParametersVersion;
        Assert.Equal(2, version);
        Assert.Equal(["max_connections"], scenario.State.PendingRestart);
        Assert.Equal("n2 reports parameters version 3, but the cluster's parameters are at version 2", scenario.State.Check(Applied("n2", 3)));

        scenario.Append(Applied("n1", version, "max_connections")).Append(Applied("n2", version, "max_connections")).Append(Applied("n3", version, "max_connections"));
        Assert.All(scenario.State.Nodes.Values, n => Assert.Equal(2L, n.ParametersVersion));
        Assert.All(scenario.State.Nodes.Values, n => Assert.Equal(["max_connections"], n.PendingRestart));

        scenario.Append(Applied("n2", version));
        Assert.Equal(["max_connections"], scenario.State.PendingRestart); // n1 and n3 still wait
        scenario.Append(Applied("n1", version)).Append(Applied("n3", version));
        Assert.Empty(scenario.State.PendingRestart);

        scenario.Append(Change(new() { ["work_mem"] = null }));
        Assert.Equal(new Dictionary<string, string> { ["max_connections"] = "200" }, scenario.State.Parameters);
        Assert.Equal(["max_connections", "work_mem"], scenario.State.ParameterNames);
        var directive = ParameterDirective.For(scenario.State);
        Assert.Equal(("200", scenario.State.ParametersVersion), (directive.Desired["max_connections"], directive.Version));
        Assert.Equal(["work_mem"], directive.Reset);
        Assert.Equal("n2 already applied parameters version 2, newer than 1", scenario.State.Check(Applied("n2", 1)));
    }

    [Fact]
    public void failed_rollout_attempts_are_counted_on_the_node_until_it_applies_them()
    {
        var scenario = Scenario.Bootstrapped().Append(Change(new() { ["work_mem"] = "64MB" }));
        scenario.Append(new DirectiveIssued("d1", "n2", DirectiveKind.ApplyConfig, 1, 7, DateTimeOffset.MaxValue, ParameterDirective.For(scenario.State)) { By = Scenario.Coordinator, CorrelationId = ParameterDirective.CorrelationFor(2) }, 7);
        scenario.Append(new DirectiveFailed("d1", "n2", TimeSpan.FromMilliseconds(5), "connection refused") { By = Initiator.Agent("n2"), CorrelationId = ParameterDirective.CorrelationFor(2) });
        Assert.Equal((1, "connection refused"), (scenario.State.Nodes["n2"].ParametersFailures, scenario.State.Nodes["n2"].ParametersError));
        scenario.Append(Applied("n2", 2));
        Assert.Equal((0, (string?)null), (scenario.State.Nodes["n2"].ParametersFailures, scenario.State.Nodes["n2"].ParametersError));
    }

    [Fact]
    public void a_rolling_restart_is_refused_while_paused_switching_over_behind_or_with_nothing_pending()
    {
        RollingRestartRequested Request(string id = "r1") => new(id, "test") { By = Bob, CorrelationId = id };
        var scenario = Scenario.Bootstrapped();
        Assert.Equal("no node has a parameter pending restart: nothing to restart", scenario.State.Check(Request()));
        scenario.Append(Change(new() { ["max_connections"] = "200" }, "max_connections"));
        Assert.Equal("n1 has not applied parameters version 2 yet (it is at 0): wait until pgha config show says every node applied it", scenario.State.Check(Request()));
        foreach (var node in new[] { "n1", "n2", "n3" }) scenario.Append(Applied(node, 2, "max_connections"));
        scenario.Append(new FailoverPaused("night") { By = Bob, CorrelationId = "p" });
        Assert.Equal("cluster demo is paused (night): resume it before a rolling restart", scenario.State.Check(Request()));
        scenario.Append(new FailoverResumed("day") { By = Bob, CorrelationId = "p" });
        scenario.Append(new SwitchoverRequested("sw1", "n1", "n2", DateTimeOffset.MaxValue) { By = Bob, CorrelationId = "sw1" });
        Assert.Equal("switchover sw1 is in progress", scenario.State.Check(Request()));
        scenario.Append(new SwitchoverFailed("sw1", "cancelled") { By = Bob, CorrelationId = "sw1" });
        scenario.Append(Request());
        Assert.Equal("rolling restart r1 is already in progress", scenario.State.Check(Request("r2")));
    }

    [Fact]
    public void the_answer_an_agent_gives_names_the_version_and_what_is_pending()
    {
        var detail = ParameterDirective.Answer("2 parameter(s) set, 0 reset, configuration reloaded", 17, ["shared_buffers", "max_connections"]);
        Assert.Equal("2 parameter(s) set, 0 reset, configuration reloaded; parameters version 17; pending restart: max_connections, shared_buffers", detail);
        // Answers stored before outcomes were typed read back as the same outcome.
        Assert.Equal(new ParametersSet(17, ["max_connections", "shared_buffers"]), LegacyDirectivePayloads.Outcome(DirectiveKind.ApplyConfig, detail));
        Assert.Equal(new Restarted(17, "n1", []), LegacyDirectivePayloads.Outcome(DirectiveKind.Restart, ParameterDirective.Answer("restarted (fast), streaming from n1", 17, [])));
        Assert.Null(LegacyDirectivePayloads.Outcome(DirectiveKind.ApplyConfig, "synchronous_standby_names set to 'n2'"));
    }

    [Fact]
    public void a_directive_carrying_a_managed_parameter_is_refused_by_the_agent()
    {
        var directive = new ApplyParameters(new Dictionary<string, string> { ["port"] = "1" }, [], 3);
        Assert.Equal("refused: 'port' is not a parameter pgha may set", ParameterDirective.Problem(directive));
        Assert.Equal("refused: 'port' is not a parameter pgha may set", ParameterDirective.Problem(new ApplyParameters(new Dictionary<string, string>(), ["port"], 3)));
        Assert.Null(ParameterDirective.Problem(new ApplyParameters(new Dictionary<string, string> { ["work_mem"] = "64MB" }, ["temp_buffers"], 3)));
    }
}
