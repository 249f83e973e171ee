using HA.Core.Events;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// `pgha failover --to NODE` (DESIGN §5): refused while the primary is healthy (that is a switchover),
/// while paused without --force, or to the lost primary itself; forced while paused, it fences the old
/// primary (here: waits for its lease) and promotes the named node rather than the automatic choice.
/// </summary>
public sealed class a_manual_failover(ITestOutputHelper output)
{
    [Fact]
    public async Task promotes_the_named_node_and_is_refused_with_a_reason_when_it_should_not_happen()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero }, startAgents: false);
        await AgentScenario.StartWithCoordinatorAsync(agents, "n2");
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var config = agents.Configs["n2"];

        var healthy = await PghaProcess.RunAsync("failover", "--config", config, "--to", "n3");
        Assert.Equal(1, healthy.ExitCode);
        Assert.Contains("refused: the primary n1 is healthy: use pgha switchover to move it (409 from POST /api/v1/cluster/failover", healthy.Error, StringComparison.Ordinal);

        Assert.Equal(0, (await PghaProcess.RunAsync("pause", "--config", config, "--reason", "night")).ExitCode);
        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        // Until n1's last heartbeat (which may still say "running") goes stale, the coordinator rightly
        // calls n1 healthy and refuses a failover; seen in CI when the next three commands took 1.3 s.
        await agents.WaitForStateAsync(s => s.Nodes["n1"].Health != NodeHealth.Healthy, AgentScenario.Long, "the coordinator no longer hears n1");

        var paused = await PghaProcess.RunAsync("failover", "--config", config, "--to", "n3");
        Assert.Equal((1, "pgha: cluster test: FailoverRequested refused: cluster test is paused (night): add --force to fail over anyway (409 from POST /api/v1/cluster/failover?wait=60000ms)"), (paused.ExitCode, paused.Error.Trim()));
        var itself = await PghaProcess.RunAsync("failover", "--config", config, "--to", "n1", "--force");
        Assert.Equal((1, "pgha: cluster test: FailoverRequested refused: n1 is the primary being replaced (409 from POST /api/v1/cluster/failover?wait=60000ms)"), (itself.ExitCode, itself.Error.Trim()));

        var forced = await PghaProcess.RunAsync("failover", "--config", config, "--to", "n3", "--force");
        Assert.True(forced.ExitCode == 0, $"{forced.Output}{forced.Error}\n{agents.AgentLogs()}");
        Assert.Contains("n3 is the primary of term 2", forced.Output, StringComparison.Ordinal);
        await writes.WaitForAcknowledgedOnAsync("n3", 20, AgentScenario.Long);

        var history = await agents.HistoryAsync();
        var started = history.Select(e => e.Event).OfType<FailoverStarted>().Single();
        Assert.StartsWith("manual failover to n3 requested by user ", started.Trigger, StringComparison.Ordinal);
        Assert.Equal("the operator asked for n3", started.Candidates.Single(c => c.Node == "n2").RejectedBecause);
        Assert.Contains(history, e => e.Event is NodeFenced { Node: "n1" });
        Assert.True((await agents.StateAsync())!.Paused, "still paused: only the operator's failover happened");
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }

    [Fact]
    public async Task promotes_a_node_that_missed_writes_only_with_allow_data_loss()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, MaximumLagOnFailover = 64 * 1024 }, startAgents: false);
        await AgentScenario.StartWithCoordinatorAsync(agents, "n3");
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var config = agents.Configs["n3"];
        Assert.Equal(0, (await PghaProcess.RunAsync("pause", "--config", config, "--reason", "keep n3 out of it")).ExitCode);

        // n2 is down while n1 writes a few MB; then n1 is lost and n2 comes back with only what it had.
        agents.KillAgent("n2");
        agents.KillPostgres("n2");
        await using (var n1 = new Npgsql.NpgsqlConnection(agents.ConnectionString("n1") + ";Pooling=false"))
        {
            await n1.OpenAsync();
            await using var fill = new Npgsql.NpgsqlCommand("CREATE TABLE missed_by_n2 AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 3000)", n1);
            await fill.ExecuteNonQueryAsync();
        }
        await Task.Delay(TimeSpan.FromSeconds(2)); // the coordinator hears n1's position
        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        agents.StartAgent("n2");
        await agents.WaitForStateAsync(s => s.Nodes["n2"].Health == NodeHealth.Healthy, AgentScenario.Long, "n2 running again");

        var refused = await PghaProcess.RunAsync("failover", "--config", config, "--to", "n2", "--force");
        Assert.Equal(1, refused.ExitCode);
        Assert.Matches(@"n2 cannot be promoted: lag \d+ bytes behind the primary's last known \S+ exceeds maximum_lag_on_failover \(65536\); add --allow-data-loss to promote it anyway", refused.Error);
        Assert.Equal("n1", (await agents.StateAsync())!.Primary);

        var allowed = await PghaProcess.RunAsync("failover", "--config", config, "--to", "n2", "--force", "--allow-data-loss");
        Assert.True(allowed.ExitCode == 0, $"{allowed.Output}{allowed.Error}\n{agents.AgentLogs()}");
        Assert.Contains("n2 is the primary of term 2", allowed.Output, StringComparison.Ordinal);
        await writes.WaitForAcknowledgedOnAsync("n2", 20, AgentScenario.Long);

        var history = await agents.HistoryAsync();
        var started = history.Select(e => e.Event).OfType<FailoverStarted>().Single();
        Assert.Contains("(data loss allowed)", started.Trigger, StringComparison.Ordinal);
        Assert.Single(history.Select(e => e.Event).OfType<FailoverFailed>()); // the refusal
        await using (var n2 = new Npgsql.NpgsqlConnection(agents.ConnectionString("n2") + ";Pooling=false"))
        {
            await n2.OpenAsync();
            await using var missing = new Npgsql.NpgsqlCommand("SELECT to_regclass('missed_by_n2') IS NULL", n2);
            Assert.True((bool)(await missing.ExecuteScalarAsync())!, "n2 has the table it could not have received");
        }
        var check = await agents.CheckAsync(writes, allowedLoss: 100_000);
        // Only loss, which the operator allowed: still one writer at a time, and a sound log.
        Assert.DoesNotContain(check.Violations, v => v.Kind is not (ViolationKind.AcknowledgedWriteLost or ViolationKind.LossOverAllowance));
        output.WriteLine(check.Summary);
    }
}
