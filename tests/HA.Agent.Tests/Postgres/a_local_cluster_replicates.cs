using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Core.Replication;
using HA.Testing;
using Npgsql;

namespace HA.Agent.Tests.Postgres;

/// <summary>Reads and writes on one shared three-node cluster; nothing here changes roles.</summary>
public sealed class a_local_cluster_replicates(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task both_replicas_stream_from_the_primary_through_their_slots()
    {
        var primary = await NodeProbe.ReadAsync(Cluster.Primary.Settings, default);
        Assert.True(primary.IsPrimary);
        Assert.Equal(1, primary.Timeline);
        Assert.Equal(["n2", "n3"], primary.Replication.Where(r => r.IsStreaming).Select(r => r.ApplicationName).Order());
        Assert.All(primary.Replication, r => Assert.Equal("async", r.SyncState));

        foreach (var replica in Cluster.Replicas)
        {
            var state = await NodeProbe.ReadAsync(replica.Settings, default);
            Assert.True(state.InRecovery);
            Assert.True(state.IsStreamingReplica, $"{replica.Settings.Name}: wal receiver is {state.WalReceiverStatus}");
            Assert.Equal(Cluster.Primary.Settings.Port, state.UpstreamPort);
            Assert.Equal(1, state.Timeline);
        }

        var slots = await QueryAsync(Cluster.Primary, "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY slot_name) FROM pg_replication_slots");
        Assert.Equal("pgha_n2:true,pgha_n3:true", slots);
    }

    [Fact]
    public async Task the_witness_takes_the_connections_of_every_agent_while_nodes_keep_their_own_limit()
    {
        Assert.Equal(LocalCluster.WitnessMinimumConnections.ToString(System.Globalization.CultureInfo.InvariantCulture),
            await QueryAsync(Cluster.Cluster.Witness, "SHOW max_connections"));
        Assert.Equal("40", await QueryAsync(Cluster.Primary, "SHOW max_connections"));
    }

    [Fact]
    public async Task a_row_written_on_the_primary_is_read_back_from_both_replicas()
    {
        var marker = Guid.NewGuid().ToString("N");
        await ExecuteAsync(Cluster.Primary, "CREATE TABLE IF NOT EXISTS replicated_rows (marker text PRIMARY KEY)");
        await ExecuteAsync(Cluster.Primary, $"INSERT INTO replicated_rows VALUES ('{marker}')");

        foreach (var replica in Cluster.Replicas)
        {
            var seen = await Eventually.HoldsAsync(
                () => QueryAsync(replica, $"SELECT count(*)::text FROM replicated_rows WHERE marker = '{marker}'"),
                count => count == "1", TimeSpan.FromSeconds(30), $"row {marker} on {replica.Settings.Name}");
            Assert.Equal("1", seen);
        }
    }

    [Fact]
    public async Task a_replica_refuses_writes()
    {
        var replica = Cluster.Replicas[0];
        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(replica, "CREATE TABLE should_fail (id int)"));
        Assert.Equal("25006", error.SqlState); // read_only_sql_transaction
    }

    [Fact]
    public async Task lag_is_measured_in_bytes_against_the_primary_position()
    {
        await ExecuteAsync(Cluster.Primary, "CREATE TABLE IF NOT EXISTS lag_probe (id serial, payload text)");
        await ExecuteAsync(Cluster.Primary, "INSERT INTO lag_probe (payload) SELECT repeat('x', 100) FROM generate_series(1, 1000)");
        var primary = await NodeProbe.ReadAsync(Cluster.Primary.Settings, default);
        Assert.NotNull(primary.CurrentLsn);
        Assert.All(primary.Replication, r => Assert.True(r.LagBytes >= 0, $"{r.ApplicationName} lag {r.LagBytes}"));

        // Once replay catches up, the replica's replay position reaches the primary's and lag is zero.
        var replica = Cluster.Replicas[0];
        var caughtUp = await Eventually.HoldsAsync(
            () => NodeProbe.ReadAsync(replica.Settings, default),
            s => s.ReplayLagBytes(primary.CurrentLsn!.Value) == 0, TimeSpan.FromSeconds(30), "replica replay to catch up");
        Assert.True(caughtUp.ReplayedLsn >= primary.CurrentLsn);
    }

    internal static async Task ExecuteAsync(PostgresInstance node, string sql)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node.Settings));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    internal static async Task<string?> QueryAsync(PostgresInstance node, string sql)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node.Settings));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (await command.ExecuteScalarAsync())?.ToString();
    }
}
