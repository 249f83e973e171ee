using HA.Agent.Postgres;
using HA.Testing;
using static HA.Agent.Tests.Postgres.a_local_cluster_replicates;

namespace HA.Agent.Tests.Postgres;

/// <summary>Each test owns a cluster: these change roles or kill servers.</summary>
public sealed class instance_control_changes_roles_and_survives_crashes
{
    [Fact]
    public async Task promoting_a_replica_makes_it_writable_on_a_new_timeline()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 2);
        var replica = cluster.Replicas[0];
        await ExecuteAsync(cluster.Primary, "CREATE TABLE before_promote AS SELECT 1 AS id");
        await Eventually.HoldsAsync(() => QueryAsync(replica, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'before_promote'"),
            c => c == "1", TimeSpan.FromSeconds(30), "table to replicate");

        await replica.PromoteAsync(default);

        var state = await NodeProbe.ReadAsync(replica.Settings, default);
        Assert.False(state.InRecovery);
        Assert.Equal(2, state.Timeline);
        await ExecuteAsync(replica, "INSERT INTO before_promote VALUES (2)");
        Assert.Equal("2", await QueryAsync(replica, "SELECT count(*)::text FROM before_promote"));
    }

    [Fact]
    public async Task an_immediate_stop_of_the_primary_recovers_on_restart_and_replicas_reconnect()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 2);
        var primary = cluster.Primary;
        await ExecuteAsync(primary, "CREATE TABLE survives (id int)");
        await ExecuteAsync(primary, "INSERT INTO survives SELECT generate_series(1, 500)");

        await primary.StopAsync(StopMode.Immediate, default);
        Assert.Null(primary.ServerProcessId());
        await primary.StartAsync(default);

        Assert.Equal("500", await QueryAsync(primary, "SELECT count(*)::text FROM survives"));
        Assert.Contains("database system was interrupted", await File.ReadAllTextAsync(primary.Settings.LogFile));
        await cluster.Cluster.WaitForStreamingAsync(TimeSpan.FromSeconds(60), default);
        var replica = cluster.Replicas[0];
        await Eventually.HoldsAsync(() => QueryAsync(replica, "SELECT count(*)::text FROM survives"),
            c => c == "500", TimeSpan.FromSeconds(30), "rows on the replica after the primary's restart");
    }

    [Fact]
    public async Task a_restart_and_a_reload_keep_the_node_serving()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 1);
        var node = cluster.Primary;
        var before = node.ServerProcessId();
        await node.RestartAsync(StopMode.Fast, default);
        var after = node.ServerProcessId();
        Assert.NotNull(after);
        Assert.NotEqual(before, after);

        await ExecuteAsync(node, "ALTER SYSTEM SET work_mem = '7MB'");
        await node.ReloadAsync(default);
        await Eventually.HoldsAsync(() => QueryAsync(node, "SHOW work_mem"), v => v == "7MB", TimeSpan.FromSeconds(10), "reloaded work_mem");
    }

    [Fact]
    public async Task stopping_a_stopped_server_succeeds()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 1);
        await cluster.Primary.StopAsync(StopMode.Fast, default);
        await cluster.Primary.StopAsync(StopMode.Fast, default);
        Assert.Null(cluster.Primary.ServerProcessId());
    }

    [Fact]
    public async Task teardown_leaves_no_process_and_no_directory_behind()
    {
        var cluster = await TestCluster.StartAsync(nodes: 3);
        var directory = cluster.Directory;
        Assert.NotEmpty(PostgresProcesses.Under(directory));

        await cluster.DisposeAsync();

        Assert.Empty(PostgresProcesses.Under(directory));
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task the_orphan_guard_stops_the_cluster_when_its_owner_is_gone()
    {
        var cluster = await TestCluster.StartAsync(nodes: 2);
        var directory = cluster.Directory;
        Assert.NotEmpty(PostgresProcesses.Under(directory));

        // What the kernel does when the owner is killed: the guard's pipe closes and it cleans up.
        var guard = OrphanGuard.Arm(cluster.Cluster.CleanupScript(StopMode.Immediate, removeDirectory: true), Path.Combine(Path.GetTempPath(), "pgha-test-orphan-guard.log"));
        guard.Fire();

        await Eventually.HoldsAsync(() => Task.FromResult(PostgresProcesses.Under(directory).Count), c => c == 0, TimeSpan.FromSeconds(30), "every postgres process under the directory to exit");
        await Eventually.HoldsAsync(() => Task.FromResult(Directory.Exists(directory)), e => !e, TimeSpan.FromSeconds(30), "the directory to be removed");
        await cluster.DisposeAsync();
    }
}

public sealed class a_server_that_cannot_start
{
    [Fact]
    public async Task reports_the_reason_from_the_server_log_in_one_line()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 1);
        var node = cluster.Primary;
        await node.StopAsync(StopMode.Fast, default);
        await File.AppendAllTextAsync(Path.Combine(node.Settings.DataDirectory, "postgresql.conf"), "\nshared_buffers = 'lots'\n");

        var error = await Assert.ThrowsAsync<PostgresCommandFailed>(() => node.StartAsync(default));

        Assert.StartsWith("pg_ctl start failed for node n1: ", error.Message);
        Assert.Contains("invalid value for parameter \"shared_buffers\": \"lots\"", error.Message);
        Assert.EndsWith($"(log: {node.Settings.LogFile})", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }
}
