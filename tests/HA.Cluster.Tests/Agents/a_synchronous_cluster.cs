using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Synchronous replication (issue 7): the coordinator keeps synchronous_standby_names and the logged
/// synchronous standbys in step, and only a node with every acknowledged commit is promoted. The
/// primary's postmaster is killed with SIGKILL again and again while a client commits continuously;
/// the history checker allows no acknowledged write to be lost.
/// </summary>
public sealed class a_synchronous_cluster(ITestOutputHelper output)
{
    private const int Kills = 20;

    [Fact]
    public Task loses_no_acknowledged_write_over_repeated_primary_kills_with_one_synchronous_standby() =>
        KillRepeatedlyAsync("on", standbys: 1, "FIRST 1");

    [Fact]
    public Task loses_no_acknowledged_write_over_repeated_primary_kills_with_a_quorum_of_two_standbys() =>
        KillRepeatedlyAsync("quorum", standbys: 2, "ANY 1");

    private async Task KillRepeatedlyAsync(string mode, int standbys, string expectedSetting)
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, SynchronousMode = mode, SynchronousNodeCount = 1 });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);

        var primaries = new List<string>();
        for (var kill = 1; kill <= Kills; kill++)
        {
            var ready = await agents.WaitForStateAsync(s => s.Primary is not null && s.Failover is null
                    && s.SynchronousStandbys.Count == standbys && s.SynchronousApplied?.Node == s.Primary
                    && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy && n.Role is NodeRole.Primary or NodeRole.Replica),
                AgentScenario.Long, $"round {kill}: every node healthy and {standbys} synchronous standby(s) recorded");
            var primary = ready.Primary!;
            Assert.StartsWith(expectedSetting, ready.SynchronousApplied!.Value, StringComparison.Ordinal);
            Assert.Equal(expectedSetting + " (" + string.Join(", ", ready.SynchronousStandbys.Select(s => $"\"{s}\"")) + ")", ready.SynchronousApplied.Value);
            await using (var connection = new NpgsqlConnection(agents.ConnectionString(primary) + ";Pooling=false"))
            {
                await connection.OpenAsync();
                await using var show = new NpgsqlCommand("SHOW synchronous_standby_names", connection);
                Assert.Equal(ready.SynchronousApplied.Value, (string?)await show.ExecuteScalarAsync());
            }
            await writes.WaitForAcknowledgedOnAsync(primary, 10, AgentScenario.Long);

            agents.KillPostgres(primary);
            var after = await agents.WaitForStateAsync(s => s.Primary != primary && s.Failover is null, AgentScenario.Long, $"round {kill}: a synchronous standby replaces {primary}");
            Assert.Contains(after.Primary!, ready.SynchronousStandbys);
            primaries.Add(after.Primary!);
            output.WriteLine($"kill {kill}: {primary} → {after.Primary} (synchronous standbys were {string.Join(", ", ready.SynchronousStandbys)})");
        }
        await writes.WaitForAcknowledgedOnAsync(primaries[^1], 10, AgentScenario.Long);

        var history = await agents.HistoryAsync();
        Assert.Equal(Kills, history.Count(e => e.Event is FailoverCompleted));
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }

    [Fact]
    public async Task in_strict_mode_blocks_writes_while_no_standby_is_left_and_never_promotes_a_node_that_missed_commits()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, SynchronousMode = "on", SynchronousStrict = true }, nodes: 2);
        await AgentScenario.BootstrappedAsync(agents);
        await agents.WaitForStateAsync(s => s.SynchronousStandbys is ["n2"], AgentScenario.Long, "n2 recorded as the synchronous standby");

        // Without its standby the primary may not acknowledge a commit: it waits.
        agents.KillAgent("n2");
        agents.KillPostgres("n2");
        var alone = await agents.WaitForStateAsync(s => s.SynchronousStandbys.Count == 0 && s.SynchronousApplied is { Value: "*" }, AgentScenario.Long, "n2 dropped and the primary waiting for any standby");
        Assert.Equal("n1", alone.Primary);
        await using var connection = new NpgsqlConnection(agents.ConnectionString("n1") + ";Pooling=false");
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS strict_probe (id int)", connection))
        {
            var blocked = create.ExecuteNonQueryAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.False(blocked.IsCompleted, "a commit was acknowledged with no synchronous standby in strict mode");

            // The standby comes back: the waiting commit is acknowledged, and n2 is a synchronous standby again.
            agents.StartAgent("n2");
            await blocked.WaitAsync(AgentScenario.Long);
        }
        var back = await agents.WaitForStateAsync(s => s.SynchronousStandbys is ["n2"], AgentScenario.Long, "n2 recorded as the synchronous standby again");
        Assert.Equal("FIRST 1 (\"n2\")", back.SynchronousApplied?.Value);

        var history = await agents.HistoryAsync();
        Assert.DoesNotContain(history, e => e.Event is FailoverStarted);
    }

    [Fact]
    public async Task a_rolling_restart_in_synchronous_mode_loses_no_acknowledged_write_and_ends_with_a_synchronous_standby()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { SynchronousMode = "on" });
        await AgentScenario.BootstrappedAsync(agents);
        await agents.WaitForStateAsync(s => s.SynchronousStandbys.Count == 1, AgentScenario.Long, "a synchronous standby recorded");
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var config = agents.Configs["n2"];

        var set = await PghaProcess.RunAsync("config", "set", "max_connections=140", "--config", config);
        Assert.True(set.ExitCode == 0, set.Error);
        await agents.WaitForStateAsync(s => s.Nodes.Values.All(n => n.ParametersVersion == s.ParametersVersion && n.PendingRestart.Count == 1), AgentScenario.Long, "max_connections pending on every node");
        var rolling = await PghaProcess.RunAsync("restart", "--rolling", "--config", config, "--timeout", "5m");
        Assert.True(rolling.ExitCode == 0, rolling.Output + rolling.Error + agents.AgentLogs());

        var after = await agents.WaitForStateAsync(s => s.Primary != "n1" && s.SynchronousStandbys.Count == 1 && s.SynchronousApplied?.Node == s.Primary
                && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy && n.PendingRestart.Count == 0),
            AgentScenario.Long, "the new primary has a synchronous standby again, nothing pending");
        await writes.WaitForAcknowledgedOnAsync(after.Primary!, 20, AgentScenario.Long);
        var history = await agents.HistoryAsync();
        Assert.DoesNotContain(history, e => e.Event is FailoverStarted or RollingRestartFailed);
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }
}
