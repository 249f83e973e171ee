using HA.Agent.Postgres;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// A replica that replayed past the point where the new primary's timeline forked cannot follow it:
/// its WAL receiver keeps connecting to the new primary (streaming the old timeline up to the fork)
/// and its startup process keeps refusing the new timeline. The coordinator must see that it never
/// reaches the primary's timeline and rewind it, not leave it "streaming" forever.
/// </summary>
public sealed class a_diverged_replica(ITestOutputHelper output)
{
    /// <summary>Sends <paramref name="signal"/> to the walsender on <paramref name="primary"/> that serves <paramref name="standby"/>.</summary>
    private static async Task SignalWalSenderAsync(AgentCluster agents, string primary, string standby, string signal)
    {
        await using var connection = new NpgsqlConnection(agents.ConnectionString(primary) + ";Pooling=false");
        await connection.OpenAsync();
        await using var find = new NpgsqlCommand("SELECT pid FROM pg_stat_replication WHERE application_name = @standby", connection);
        find.Parameters.AddWithValue("standby", standby);
        var pid = (int)(await find.ExecuteScalarAsync() ?? throw new InvalidOperationException($"{primary} sends no WAL to {standby}"));
        var kill = await OsCommand.RunAsync("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], default);
        Assert.Equal(0, kill.ExitCode);
    }

    [Fact]
    public async Task that_keeps_connecting_to_the_new_primary_is_rewound_and_follows_its_timeline()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 10, AgentScenario.Long);

        // n1 stops sending to n2 while n3 replays on; n3 is kept out of the failover, so n2, a little behind, is promoted.
        await SignalWalSenderAsync(agents, "n1", "n2", "STOP");
        await writes.WaitForAcknowledgedOnAsync("n1", 30, AgentScenario.Long);
        var n2At = (await agents.Cluster.Cluster.ProbeAllAsync(default))["n2"]!.ReceivedLsn;
        await Eventually.HoldsAsync(async () => await agents.Cluster.Cluster.ProbeAllAsync(default),
            probe => probe["n3"]?.ReplayedLsn is { } replayed && n2At is { } behind && replayed > behind, AgentScenario.Long, "n3 replaying past what n2 received");
        Assert.Equal(0, (await PghaProcess.RunAsync("detach", "--config", agents.Configs["n1"], "--node", "n3", "--reason", "test")).ExitCode);
        await SignalWalSenderAsync(agents, "n1", "n2", "KILL");
        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary == "n2" && s.Failover is null, AgentScenario.Long, "n2 promoted");
        await writes.WaitForAcknowledgedOnAsync("n2", 10, AgentScenario.Long);

        // n3 replayed past n2's fork point: once attached it is repointed to n2 and cannot follow without a rewind.
        Assert.Equal(0, (await PghaProcess.RunAsync("attach", "--config", agents.Configs["n2"], "--node", "n3")).ExitCode);
        IReadOnlyDictionary<string, NodeState?>? followed;
        try
        {
            followed = await Eventually.HoldsAsync(async () => await agents.Cluster.Cluster.ProbeAllAsync(default),
                probe => probe["n3"] is { InRecovery: true } n3 && probe["n2"] is { } n2 && n3.Timeline == n2.Timeline && n3.UpstreamHost is not null,
                AgentScenario.Long, "n3 on n2's timeline");
        }
        catch (TimeoutException)
        {
            var probe = await agents.Cluster.Cluster.ProbeAllAsync(default);
            output.WriteLine(string.Join("\n", probe.Select(p => $"{p.Key}: {p.Value}")));
            output.WriteLine(agents.AgentLogs());
            throw;
        }
        output.WriteLine($"n3 follows n2 on timeline {followed!["n3"]!.Timeline}");
        var history = (await agents.HistoryAsync()).Select(e => e.Event).ToList();
        Assert.Contains(history.OfType<DirectiveIssued>(), d => d.Node == "n3" && d.Kind == DirectiveKind.Rewind && d.Term == promoted.Term);

        await writes.WaitForAcknowledgedOnAsync("n2", 10, AgentScenario.Long);
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
