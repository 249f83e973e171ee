using HA.Agent.Postgres;
using HA.Testing;
using static HA.Agent.Tests.Postgres.a_local_cluster_replicates;

namespace HA.Agent.Tests.Postgres;

/// <summary>
/// The actions directives will drive (DESIGN §5), run by hand on a real cluster: the primary crashes,
/// a replica is promoted, the other is repointed, the old primary is rewound (after crash recovery)
/// and rejoins; a node is rebuilt from scratch; a clean demotion needs no rewind.
/// </summary>
public sealed class a_failover_by_hand_with_the_node_actions
{
    private static ReplicationSource SourceOf(PostgresInstance node) => new(node.Settings.ListenAddress, node.Settings.Port);

    private static async Task<string?> StreamingFromAsync(PostgresInstance upstream, string replica)
    {
        var state = await NodeProbe.ReadAsync(upstream.Settings, default);
        return state.Replication.FirstOrDefault(r => r.ApplicationName == replica && r.IsStreaming)?.ApplicationName;
    }

    [Fact]
    public async Task the_old_primary_is_rewound_after_a_crash_and_every_node_follows_the_new_primary()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 3);
        var (n1, n2, n3) = (cluster.Cluster.Node("n1"), cluster.Cluster.Node("n2"), cluster.Cluster.Node("n3"));
        await ExecuteAsync(n1, "CREATE TABLE history (id int, era text)");
        await ExecuteAsync(n1, "INSERT INTO history SELECT g, 'before' FROM generate_series(1, 100) g");
        await Eventually.HoldsAsync(() => QueryAsync(n2, "SELECT count(*)::text FROM history"), c => c == "100", TimeSpan.FromSeconds(30), "rows on n2");

        // The primary crashes after writing something no replica will ever get: n1 diverges.
        await n2.StopAsync(StopMode.Fast, default);
        await n3.StopAsync(StopMode.Fast, default);
        await ExecuteAsync(n1, "INSERT INTO history SELECT g, 'lost' FROM generate_series(101, 150) g");
        await n1.StopAsync(StopMode.Immediate, default);
        Assert.Equal("in production", await n1.ControlStateAsync(default));
        await n2.StartAsync(default);
        await n3.StartAsync(default);

        await n2.PromoteAsync(default);
        await NodeSql.EnsureSlotsAsync(n2.Settings, ["n1", "n3"], default);
        await n3.RepointAsync(SourceOf(n2), default);
        await ExecuteAsync(n2, "INSERT INTO history SELECT g, 'after' FROM generate_series(101, 120) g");

        await n1.RewindAsync(SourceOf(n2), default);

        await Eventually.HoldsAsync(() => StreamingFromAsync(n2, "n3"), r => r == "n3", TimeSpan.FromSeconds(60), "n3 streaming from n2");
        try
        {
            await Eventually.HoldsAsync(() => StreamingFromAsync(n2, "n1"), r => r == "n1", TimeSpan.FromSeconds(60), "n1 streaming from n2");
        }
        catch (TimeoutException e)
        {
            var log = (await File.ReadAllLinesAsync(n1.Settings.LogFile)).TakeLast(15);
            throw new TimeoutException(e.Message + "\nn1 log:\n" + string.Join('\n', log));
        }
        foreach (var node in new[] { n1, n3 })
        {
            var rows = await Eventually.HoldsAsync(() => QueryAsync(node, "SELECT string_agg(era || ':' || count, ',' ORDER BY era) FROM (SELECT era, count(*) FROM history GROUP BY era) e"),
                v => v == "after:20,before:100", TimeSpan.FromSeconds(60), $"{node.Settings.Name} to hold exactly the new primary's rows");
            Assert.Equal("after:20,before:100", rows);
            var state = await NodeProbe.ReadAsync(node.Settings, default);
            Assert.True(state.InRecovery);
            Assert.Equal(2, state.Timeline);
        }
    }

    [Fact]
    public async Task a_clean_demotion_follows_the_new_primary_without_a_rewind_and_a_node_can_be_rebuilt()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 3);
        var (n1, n2, n3) = (cluster.Cluster.Node("n1"), cluster.Cluster.Node("n2"), cluster.Cluster.Node("n3"));
        await ExecuteAsync(n1, "CREATE TABLE planned (id int)");
        await NodeSql.CheckpointAsync(n1.Settings, default);

        // Switchover order: demote the primary cleanly, wait until n2 replayed its final position, promote.
        await n1.StopAsync(StopMode.Fast, default);
        Assert.Equal("shut down", await n1.ControlStateAsync(default));
        await n2.PromoteAsync(default);
        await NodeSql.EnsureSlotsAsync(n2.Settings, ["n1", "n3"], default);
        await n1.DemoteAsync(SourceOf(n2), default);
        await n3.RepointAsync(SourceOf(n2), default);
        await ExecuteAsync(n2, "INSERT INTO planned SELECT generate_series(1, 10)");
        await Eventually.HoldsAsync(() => StreamingFromAsync(n2, "n1"), r => r == "n1", TimeSpan.FromSeconds(60), "n1 streaming from n2 after a clean demotion");
        await Eventually.HoldsAsync(() => QueryAsync(n1, "SELECT count(*)::text FROM planned"), c => c == "10", TimeSpan.FromSeconds(60), "rows on n1");

        await n3.ReinitializeAsync(SourceOf(n2), cluster.Cluster.Credentials, default);
        await Eventually.HoldsAsync(() => StreamingFromAsync(n2, "n3"), r => r == "n3", TimeSpan.FromSeconds(60), "n3 streaming after a rebuild");
        Assert.Equal("10", await QueryAsync(n3, "SELECT count(*)::text FROM planned"));
    }
}
