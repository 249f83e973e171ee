using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// The coordinator that must decide may never have heard the primary: here the replica's node was down
/// while the primary wrote, then the primary's node was lost and only the replica came back. The
/// primary's last position, recorded in the witness store by the coordinator of the time, still tells
/// the new coordinator that the replica missed more than maximum_lag_on_failover: it promotes nobody
/// automatically, and a manual failover needs --allow-data-loss.
/// </summary>
public sealed class a_cluster_back_without_its_primary(ITestOutputHelper output)
{
    [Fact]
    public async Task does_not_promote_a_replica_that_missed_writes_it_never_heard_of()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, MaximumLagOnFailover = 64 * 1024 }, nodes: 2, startAgents: false);
        await AgentScenario.StartWithCoordinatorAsync(agents, "n1");
        await AgentScenario.BootstrappedAsync(agents);

        agents.KillAgent("n2");
        agents.KillPostgres("n2");
        await using (var n1 = new Npgsql.NpgsqlConnection(agents.ConnectionString("n1") + ";Pooling=false"))
        {
            await n1.OpenAsync();
            await using var fill = new Npgsql.NpgsqlCommand("CREATE TABLE missed_by_n2 AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 3000)", n1);
            await fill.ExecuteNonQueryAsync();
        }
        await Task.Delay(TimeSpan.FromSeconds(3)); // the coordinator on n1 records n1's position
        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        agents.StartAgent("n2");

        // n2's agent takes office once n1's leases have expired, judges n1 lost, and finds no candidate.
        await Eventually.HoldsAsync(() => Task.FromResult(agents.AgentLogs()),
            logs => logs.Contains("no candidate qualifies", StringComparison.Ordinal) && logs.Contains("exceeds maximum_lag_on_failover (65536)", StringComparison.Ordinal),
            AgentScenario.Long, "n2's coordinator to refuse itself as a candidate for its lag");
        var refused = await PghaProcess.RunAsync("failover", "--config", agents.Configs["n2"], "--to", "n2");
        Assert.Equal(1, refused.ExitCode);
        Assert.Matches(@"n2 cannot be promoted: lag \d+ bytes behind the primary's last known \S+ exceeds maximum_lag_on_failover \(65536\); add --allow-data-loss", refused.Error);

        var state = (await agents.StateAsync())!;
        Assert.Equal("n1", state.Primary);
        Assert.DoesNotContain(await agents.HistoryAsync(), e => e.Event is FailoverStarted);
        output.WriteLine(string.Join("\n", (await agents.HistoryAsync()).Select(HA.Core.History.EventLine.Describe)));
    }
}
