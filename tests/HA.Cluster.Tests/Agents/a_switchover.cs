using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Planned switchover (DESIGN §5) through `pgha switchover`: the primary is checkpointed and demoted
/// cleanly, the target promoted once it has every write, and the old primary follows without a rewind;
/// under a client committing throughout nothing acknowledged is lost, both ways. Bad targets are
/// refused with the reason; a scheduled switchover waits for its time and can be cancelled before.
/// </summary>
public sealed class a_switchover(ITestOutputHelper output)
{
    [Fact]
    public async Task moves_the_primary_both_ways_without_losing_a_write_and_the_old_primary_follows_without_a_rewind()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        foreach (var (from, to) in new[] { ("n1", "n2"), ("n2", "n1") })
        {
            var run = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n3"], "--to", to);
            Assert.True(run.ExitCode == 0, $"{run.Output}{run.Error}\n{agents.AgentLogs()}");
            Assert.Contains($"{to} is the primary; writes paused", run.Output, StringComparison.Ordinal);
            output.WriteLine(run.Output.Trim());
            var state = await agents.WaitForStateAsync(s => s.Primary == to && s.Nodes[from].Role == NodeRole.Replica && s.Nodes[from].Health == NodeHealth.Healthy, AgentScenario.Long, $"{from} following {to}");
            Assert.Null(state.Switchover);
            await writes.WaitForAcknowledgedOnAsync(to, 20, AgentScenario.Long);
        }

        var history = await agents.HistoryAsync();
        Assert.Equal(2, history.Count(e => e.Event is SwitchoverCompleted));
        Assert.Equal(["demote", "demote"], history.Select(e => e.Event).OfType<NodeRejoined>().Select(r => r.Method));
        Assert.DoesNotContain(history, e => e.Event is FailoverStarted || e.Event is DirectiveIssued { Kind: DirectiveKind.Rewind or DirectiveKind.Reinitialize });
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }

    [Fact]
    public async Task a_bad_target_is_refused_with_the_reason_and_a_scheduled_one_waits_for_its_time_or_is_cancelled()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        var config = agents.Configs["n2"];

        var unknown = await PghaProcess.RunAsync("switchover", "--config", config, "--to", "n9");
        Assert.Equal((1, "pgha: unknown node 'n9' in cluster test (members: n1, n2, n3) (404 from POST /api/v1/cluster/switchover?wait=60000ms)"), (unknown.ExitCode, unknown.Error.Trim()));
        var self = await PghaProcess.RunAsync("switchover", "--config", config, "--to", "n1");
        Assert.Equal((1, "pgha: cluster test: SwitchoverRequested refused: n1 is already the primary (409 from POST /api/v1/cluster/switchover?wait=60000ms)"), (self.ExitCode, self.Error.Trim()));

        // A target that has not replayed what the primary wrote is refused by the coordinator, nothing demoted.
        await using (var n2 = new Npgsql.NpgsqlConnection(agents.ConnectionString("n2") + ";Pooling=false"))
        {
            await n2.OpenAsync();
            await using (var pause = new Npgsql.NpgsqlCommand("SELECT pg_wal_replay_pause()", n2)) await pause.ExecuteNonQueryAsync();
            await using (var n1 = new Npgsql.NpgsqlConnection(agents.ConnectionString("n1") + ";Pooling=false"))
            {
                await n1.OpenAsync();
                await using var fill = new Npgsql.NpgsqlCommand("CREATE TABLE switchover_filler AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 4000)", n1);
                await fill.ExecuteNonQueryAsync();
            }
            await Task.Delay(TimeSpan.FromSeconds(2)); // a heartbeat or two with the lag in it
            var lagging = await PghaProcess.RunAsync("switchover", "--config", config, "--to", "n2");
            Assert.Equal(1, lagging.ExitCode);
            Assert.Matches(@"n2 lags \d+ bytes behind n1, over switchover.max_lag \(1048576\)", lagging.Error);
            await using (var resume = new Npgsql.NpgsqlCommand("SELECT pg_wal_replay_resume()", n2)) await resume.ExecuteNonQueryAsync();
        }
        var afterLagging = (await agents.StateAsync())!;
        Assert.Equal(("n1", (ActiveOperation?)null), (afterLagging.Primary, afterLagging.Switchover));
        Assert.DoesNotContain(await agents.HistoryAsync(), e => e.Event is DirectiveIssued { Kind: DirectiveKind.Demote });

        var later = await PghaProcess.RunAsync("switchover", "--config", config, "--to", "n2", "--at", "+1h");
        Assert.Equal(0, later.ExitCode);
        Assert.Contains("scheduled at", later.Output, StringComparison.Ordinal);
        var second = await PghaProcess.RunAsync("switchover", "--config", config, "--to", "n3");
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("is already in progress", second.Error, StringComparison.Ordinal);
        var cancelled = await PghaProcess.RunAsync("switchover", "--config", config, "--cancel");
        Assert.Equal(0, cancelled.ExitCode);
        Assert.Null((await agents.StateAsync())!.Switchover);
        Assert.Equal("n1", (await agents.StateAsync())!.Primary);

        var soon = await PghaProcess.RunAsync("switchover", "--config", config, "--to", "n3", "--at", "+3s");
        Assert.Equal(0, soon.ExitCode);
        var done = await agents.WaitForStateAsync(s => s.Primary == "n3" && s.Switchover is null, AgentScenario.Long, "the scheduled switchover at its time");
        var history = await agents.HistoryAsync();
        var requested = history.Single(e => e.Event is SwitchoverRequested { To: "n3" });
        var completed = history.Single(e => e.Event is SwitchoverCompleted);
        Assert.True(completed.At >= ((SwitchoverRequested)requested.Event).At, "the switchover happened before its time");
        Assert.Contains(history, e => e.Event is SwitchoverFailed f && f.Reason.StartsWith("cancelled by", StringComparison.Ordinal));
        Assert.Equal(1, history.Count(e => e.Event is PrimaryChanged));
        output.WriteLine(EventLines(history));
        Assert.Equal("n3", done.Primary);
    }

    private static string EventLines(IEnumerable<HA.Core.History.RecordedEvent> history) => string.Join("\n", history.Select(HA.Core.History.EventLine.Describe));
}
