using System.Text.Json;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Cluster-wide PostgreSQL parameters through `pgha config set/reset` and `pgha restart --rolling`:
/// bad input is refused with the reason and nothing is recorded; a reload parameter takes effect on
/// every node; a restart-only one is reported pending on every node until a rolling restart (replicas
/// one at a time, then a switchover) applies it, under a client writing throughout without losing an
/// acknowledged write; a reset returns every node to the default.
/// </summary>
public sealed class changing_a_parameter(ITestOutputHelper output)
{
    [Fact]
    public async Task is_refused_when_bad_applied_everywhere_when_good_and_restarted_in_turn_without_losing_a_write()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        var config = agents.Configs["n3"];
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        const string Refused = "pgha: cluster test: parameters refused, nothing recorded: ";
        (string[] Words, string Error)[] refusals =
        [
            (["no_such_parameter=1"], Refused + "unknown parameter 'no_such_parameter'"),
            (["work_mem=lots"], Refused + "work_mem: 'lots' is not a valid amount of memory (a number, optionally with a unit: B, kB, MB, GB, TB)"),
            (["work_mem=64ms"], Refused + "work_mem: '64ms': 'ms' is not a unit of work_mem; use B, kB, MB, GB, TB"),
            (["max_connections=0"], Refused + "max_connections: '0' is outside the valid range 1 .. 262143"),
            (["log_statement=everything"], Refused + "log_statement: 'everything' is not one of none, ddl, mod, all"),
            (["work_mem=64MB", "port=6000"], Refused + "port is managed by pgha: pgha sets it per node from pgha.yaml (node.host, node.port, node.data_dir)"),
        ];
        foreach (var (words, error) in refusals)
        {
            var run = await Pgha(["config", "set", .. words, "--config", config]);
            Assert.Equal((1, error + " (422 from PATCH /api/v1/cluster/postgresql)"), (run.ExitCode, run.Error.Trim()));
        }
        var reset = await Pgha("config", "reset", "work_mem", "--config", config);
        Assert.Equal((1, Refused + "work_mem is not set through pgha: nothing to reset (422 from PATCH /api/v1/cluster/postgresql)"), (reset.ExitCode, reset.Error.Trim()));
        Assert.Equal(2, (await Pgha("config", "set", "--config", config)).ExitCode);
        Assert.Equal(2, (await Pgha("config", "set", "work_mem", "--config", config)).ExitCode);
        Assert.DoesNotContain(await agents.HistoryAsync(), e => e.Event is PostgresParametersChanged);

        // A reload parameter: applied on every node by its agent.
        var set = await Pgha("config", "set", "work_mem=64MB", "log_min_duration_statement=250ms", "--config", config, "--reason", "slow queries");
        Assert.True(set.ExitCode == 0, set.Error + agents.AgentLogs());
        await AppliedEverywhereAsync(agents, pending: []);
        await ShowsEverywhereAsync(agents, "work_mem", "64MB");
        await ShowsEverywhereAsync(agents, "log_min_duration_statement", "250ms");

        // A restart-only one: pending on every node, not in effect.
        var running = await ShowAsync(agents, "n1", "max_connections");
        var restartOnly = await Pgha("config", "set", "max_connections=150", "--config", config);
        Assert.True(restartOnly.ExitCode == 0, restartOnly.Error);
        Assert.Contains("needs a restart: max_connections", restartOnly.Output, StringComparison.Ordinal);
        await AppliedEverywhereAsync(agents, pending: ["max_connections"]);
        await ShowsEverywhereAsync(agents, "max_connections", running);
        var show = await Pgha("config", "show", "--config", config, "--json");
        Assert.Equal(0, show.ExitCode);
        using (var json = JsonDocument.Parse(show.Output))
        {
            Assert.Equal("150", json.RootElement.GetProperty("parameters").GetProperty("max_connections").GetString());
            Assert.All(json.RootElement.GetProperty("nodes").EnumerateArray(), n =>
            {
                Assert.True(n.GetProperty("applied").GetBoolean());
                Assert.Equal(["max_connections"], n.GetProperty("pending_restart").EnumerateArray().Select(p => p.GetString()));
            });
        }
        output.WriteLine((await Pgha("config", "show", "--config", config)).Output);

        // The rolling restart: replicas one at a time, then a switchover; nothing pending afterwards.
        var rolling = await Pgha("restart", "--rolling", "--config", config);
        Assert.True(rolling.ExitCode == 0, rolling.Output + rolling.Error + agents.AgentLogs());
        output.WriteLine(rolling.Output.Trim());
        var after = await AppliedEverywhereAsync(agents, pending: []);
        Assert.Null(after.RollingRestart);
        Assert.NotEqual("n1", after.Primary);
        await ShowsEverywhereAsync(agents, "max_connections", "150");
        await agents.WaitForStateAsync(s => s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy) && s.Nodes["n1"].Role == NodeRole.Replica, AgentScenario.Long, "every node healthy after the rolling restart");
        await writes.WaitForAcknowledgedOnAsync(after.Primary!, 20, AgentScenario.Long);

        var history = await agents.HistoryAsync();
        var completed = history.Select(e => e.Event).OfType<RollingRestartCompleted>().Single();
        Assert.Equal(["n2", "n3", "n1"], completed.Restarted);
        Assert.Equal(2, history.Count(e => e.Event is DirectiveIssued { Kind: DirectiveKind.Restart }));
        Assert.Single(history, e => e.Event is SwitchoverCompleted);
        Assert.DoesNotContain(history, e => e.Event is FailoverStarted or RollingRestartFailed);

        // Reset: back to the default on every node.
        var back = await Pgha("config", "reset", "work_mem", "--config", config);
        Assert.True(back.ExitCode == 0, back.Error);
        await ShowsEverywhereAsync(agents, "work_mem", "4MB");
        await AppliedEverywhereAsync(agents, pending: []);

        output.WriteLine(string.Join("\n", (await agents.HistoryAsync()).Where(e => e.Event is not (NodeHealthChanged or ReplicationStateChanged)).Select(HA.Core.History.EventLine.Describe)));
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }

    private static Task<(int ExitCode, string Output, string Error)> Pgha(params string[] arguments) => PghaProcess.RunAsync(arguments);

    private static Task<ClusterState> AppliedEverywhereAsync(AgentCluster agents, string[] pending) =>
        agents.WaitForStateAsync(s => s.ParametersVersion > 0 && s.Nodes.Values.All(n => n.ParametersVersion == s.ParametersVersion && n.PendingRestart.SequenceEqual(pending)),
            AgentScenario.Long, $"every node applied the parameters, pending restart: [{string.Join(", ", pending)}]");

    private static async Task ShowsEverywhereAsync(AgentCluster agents, string parameter, string value)
    {
        foreach (var node in agents.Nodes)
            await Eventually.HoldsAsync(() => ShowAsync(agents, node, parameter), shown => shown == value, AgentScenario.Long, $"SHOW {parameter} on {node} to give {value}");
    }

    private static async Task<string> ShowAsync(AgentCluster agents, string node, string parameter)
    {
        await using var connection = new Npgsql.NpgsqlConnection(agents.ConnectionString(node) + ";Pooling=false");
        await connection.OpenAsync();
        await using var show = new Npgsql.NpgsqlCommand($"SHOW {parameter}", connection);
        return (string)(await show.ExecuteScalarAsync())!;
    }
}
