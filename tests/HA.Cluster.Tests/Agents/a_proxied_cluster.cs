using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Clients through the proxy that <c>pgha run</c> starts (DESIGN §6): the primary port reaches the
/// primary of the moment; after a failover or a switchover, the connection to the old primary is
/// closed and new ones reach the new primary with no manual step.
/// </summary>
public sealed class a_proxied_cluster(ITestOutputHelper output)
{
    /// <summary>
    /// Three nodes whose agents each run a proxy on reserved ports, bootstrapped; clients go through n3's
    /// proxy (n3's agent lives throughout).
    /// </summary>
    private sealed class ProxiedCluster(FreePorts ports, AgentCluster agents) : IAsyncDisposable
    {
        public AgentCluster Agents { get; } = agents;

        public int ProxyPort(bool replicaPort = false) => ports.Ports[replicaPort ? 5 : 4];

        /// <summary>A connection string through n3's proxy: its primary port, or its replica port.</summary>
        public string ThroughProxy(bool replicaPort = false) =>
            $"Host=127.0.0.1;Port={ProxyPort(replicaPort)};Username=postgres;Password={Agents.Cluster.Cluster.Credentials.SuperuserPassword};Database=postgres;Pooling=false;Timeout=10";

        public async ValueTask DisposeAsync()
        {
            await Agents.DisposeAsync();
            ports.Dispose();
        }
    }

    /// <summary>Starts and bootstraps a <see cref="ProxiedCluster"/>; unless told otherwise, waits until its primary port reaches n1.</summary>
    private static async Task<ProxiedCluster> StartAsync(TimeSpan primaryRestartTimeout, long? maxReplicaLag = null, bool untilN1IsReached = true)
    {
        var ports = FreePorts.Reserve(6);
        AgentCluster? agents = null;
        try
        {
            agents = await AgentCluster.StartAsync(s => s with
            {
                PrimaryRestartTimeout = primaryRestartTimeout,
                ProxyPorts = [.. Enumerable.Range(0, 3).Select(i => (ports.Ports[2 * i], ports.Ports[2 * i + 1]))],
                ProxyMaxReplicaLag = maxReplicaLag,
            });
            var cluster = new ProxiedCluster(ports, agents);
            await AgentScenario.BootstrappedAsync(agents);
            if (untilN1IsReached)
            {
                var n1Port = agents.Instance("n1").Settings.Port;
                await Eventually.HoldsAsync(() => NewConnectionServerAsync(cluster.ThroughProxy()), s => s == (n1Port, false), AgentScenario.Long, "the proxy to reach n1 as primary");
            }
            return cluster;
        }
        catch
        {
            if (agents is not null) await agents.DisposeAsync();
            ports.Dispose();
            throw;
        }
    }

    private static async Task<(int Port, bool InRecovery)> ServerAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT current_setting('port')::int, pg_is_in_recovery()", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt32(0), reader.GetBoolean(1));
    }

    private static async Task<(int Port, bool InRecovery)> NewConnectionServerAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return await ServerAsync(connection);
    }

    private static async Task<string> ClosedAsync(NpgsqlConnection connection)
    {
        try
        {
            await using var probe = new NpgsqlCommand("SELECT 1", connection);
            await probe.ExecuteScalarAsync();
            return "still open";
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            return "closed: " + e.Message;
        }
    }

    [Fact]
    public async Task after_the_primary_crashes_new_connections_reach_the_new_primary_and_the_old_one_is_closed()
    {
        await using var cluster = await StartAsync(TimeSpan.Zero);
        var (agents, proxy) = (cluster.Agents, cluster.ThroughProxy());
        var n1Port = agents.Instance("n1").Settings.Port;
        await using var old = new NpgsqlConnection(proxy);
        await old.OpenAsync();
        Assert.Equal((n1Port, false), await ServerAsync(old));

        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        var newPort = agents.Instance(promoted.Primary!).Settings.Port;
        var reached = await Eventually.HoldsAsync(() => NewConnectionServerAsync(proxy), s => s == (newPort, false), AgentScenario.Long, $"new connections through the proxy to reach {promoted.Primary}");
        output.WriteLine($"after the failover the proxy reaches {promoted.Primary} (port {reached.Port})");
        Assert.StartsWith("closed", await ClosedAsync(old), StringComparison.Ordinal);
    }

    private static System.Diagnostics.Process Pgbench(ProxiedCluster cluster, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("/usr/lib/postgresql/15/bin/pgbench",
            ["-h", "127.0.0.1", "-p", cluster.ProxyPort().ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", .. arguments, "postgres"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PGPASSWORD"] = cluster.Agents.Cluster.Cluster.Credentials.SuperuserPassword;
        start.Environment["PGCONNECT_TIMEOUT"] = "10";
        return System.Diagnostics.Process.Start(start)!;
    }

    private static async Task<(int Code, string Output)> FinishAsync(System.Diagnostics.Process process, TimeSpan timeout)
    {
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync();
            throw new TimeoutException($"pgbench did not end within {timeout.TotalSeconds:0} s: {await output}{await error}");
        }
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task pgbench_writing_through_the_proxy_carries_on_against_the_new_primary_after_a_crash()
    {
        await using var cluster = await StartAsync(TimeSpan.Zero);
        var agents = cluster.Agents;
        using (var init = Pgbench(cluster, "-i", "-s", "1", "-q"))
        {
            var (code, text) = await FinishAsync(init, AgentScenario.Long);
            Assert.True(code == 0, text);
        }

        // Writing when the primary dies: pgbench's clients lose their sessions (the proxy closes them) and end.
        using (var load = Pgbench(cluster, "-c", "4", "-j", "2", "-T", "600", "-n"))
        {
            await Eventually.HoldsAsync(() => CountAsync(agents, "n1", "SELECT count(*) FROM pgbench_history"), n => n >= 100, AgentScenario.Long, "pgbench to commit on n1");
            agents.KillPostgres("n1");
            var (code, text) = await FinishAsync(load, AgentScenario.Long);
            output.WriteLine($"pgbench during the crash exited {code}: {text.Trim().Split('\n').LastOrDefault()}");
        }
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        var newPort = agents.Instance(promoted.Primary!).Settings.Port;
        await Eventually.HoldsAsync(() => NewConnectionServerAsync(cluster.ThroughProxy()), s => s == (newPort, false), AgentScenario.Long, $"the proxy to reach {promoted.Primary}");
        var before = await CountAsync(agents, promoted.Primary!, "SELECT count(*) FROM pgbench_history");

        // No manual step: the same command line goes on writing, to the new primary, in every protocol.
        foreach (var mode in new[] { "simple", "extended", "prepared" })
        {
            using var after = Pgbench(cluster, "-M", mode, "-c", "4", "-j", "2", "-t", "50", "-n");
            var (code, text) = await FinishAsync(after, AgentScenario.Long);
            Assert.True(code == 0, $"pgbench -M {mode} after the failover: {text}");
            Assert.Contains("number of transactions actually processed: 200/200", text);
        }
        Assert.Equal(before + 600, await CountAsync(agents, promoted.Primary!, "SELECT count(*) FROM pgbench_history"));
    }

    private static async Task<long> CountAsync(AgentCluster agents, string node, string sql)
    {
        await using var connection = new NpgsqlConnection(agents.ConnectionString(node) + ";Pooling=false;Timeout=5");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task writes_through_the_proxy_reach_only_the_primary_of_the_moment_across_a_crash_and_a_switchover()
    {
        await using var cluster = await StartAsync(TimeSpan.Zero);
        var (agents, proxy) = (cluster.Agents, cluster.ThroughProxy());

        // One client writing through the proxy; each acknowledged write is recorded under the server that committed it.
        await using var writes = await WriteRecorder.StartThroughProxyAsync(proxy, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        agents.KillPostgres("n1");
        var promoted = (await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted")).Primary!;
        await writes.WaitForAcknowledgedOnAsync(promoted, 20, AgentScenario.Long);

        var target = promoted == "n2" ? "n3" : "n2";
        await agents.WaitForStateAsync(s => s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy && n.Role is NodeRole.Primary or NodeRole.Replica),
            AgentScenario.Long, "every node healthy again (n1 rewound)");
        var run = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n3"], "--to", target);
        Assert.True(run.ExitCode == 0, $"{run.Output}{run.Error}\n{agents.AgentLogs()}");
        await writes.WaitForAcknowledgedOnAsync(target, 20, AgentScenario.Long);

        // Every acknowledged write was committed by the node the log names primary at that moment (never by
        // the crashed or the demoted one), and none acknowledged by a primary that handed over cleanly is lost.
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
        var committers = writes.Attempts.Where(a => a.Acknowledged).Select(a => a.Node).Distinct().Order().ToList();
        Assert.Equal(new[] { "n1", promoted, target }.Order(), committers);
    }

    [Fact]
    public async Task pgha_proxy_runs_alone_and_follows_a_switchover_and_refuses_a_bad_setting_naming_it()
    {
        using var proxyPorts = FreePorts.Reserve(2);
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        var directory = agents.Cluster.Cluster.Directory;
        var alone = Path.Combine(directory, "proxy-alone.yaml");
        var baseYaml = await File.ReadAllTextAsync(agents.Configs["n3"]);
        await File.WriteAllTextAsync(alone, baseYaml + $"proxy: {{ primary_port: {proxyPorts.Ports[0]}, replica_port: {proxyPorts.Ports[1]} }}\n");
        var bad = Path.Combine(directory, "proxy-bad.yaml");
        await File.WriteAllTextAsync(bad, baseYaml + "proxy: { replica_fallback: random }\n");

        var refused = await PghaProcess.RunAsync("proxy", "--config", bad);
        Assert.Equal((1, "pgha: proxy-bad.yaml: proxy.replica_fallback: 'random' is not one of primary, refuse"), (refused.ExitCode, refused.Error.Trim()));

        await using var proxy = PghaProcess.Start("proxy", "--config", alone);
        await proxy.WaitForOutputAsync($"pgha proxy: primary port 127.0.0.1:{proxyPorts.Ports[0]}", AgentScenario.Long);
        var through = $"Host=127.0.0.1;Port={proxyPorts.Ports[0]};Username=postgres;Password={agents.Cluster.Cluster.Credentials.SuperuserPassword};Database=postgres;Pooling=false;Timeout=10";
        await Eventually.HoldsAsync(() => NewConnectionServerAsync(through), s => s == (agents.Instance("n1").Settings.Port, false), AgentScenario.Long, "pgha proxy to reach n1");

        var run = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n3"], "--to", "n2");
        Assert.True(run.ExitCode == 0, $"{run.Output}{run.Error}");
        await Eventually.HoldsAsync(() => NewConnectionServerAsync(through), s => s == (agents.Instance("n2").Settings.Port, false), AgentScenario.Long, "pgha proxy to reach n2 after the switchover");
    }

    [Fact]
    public async Task the_replica_port_takes_the_streaming_replicas_in_turn_and_gives_a_lagging_or_detached_one_nothing()
    {
        const long maxLag = 1024 * 1024;
        await using var cluster = await StartAsync(TimeSpan.FromSeconds(10), maxLag, untilN1IsReached: false);
        var agents = cluster.Agents;
        var (n2, n3) = (agents.Instance("n2").Settings.Port, agents.Instance("n3").Settings.Port);
        // The coordinator logs both replicas as streaming from the heartbeats; then reads go to them in turn.
        await agents.WaitForStateAsync(s => Serving(s, "n2") && Serving(s, "n3"), AgentScenario.Long, "n2 and n3 logged as streaming");
        var reads = cluster.ThroughProxy(replicaPort: true);
        var seen = await ReadsSpreadOverAsync(reads, [n2, n3], "the replica port to spread reads over n2 and n3");
        output.WriteLine(string.Join(", ", seen));

        // n2 stops replaying and falls more than proxy.max_replica_lag behind: it is logged as lagging and gets no reads.
        await ExecuteAsync(agents, "n2", "SELECT pg_wal_replay_pause()");
        await ExecuteAsync(agents, "n1", "CREATE TABLE filler AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 4000)");
        var lagging = await agents.WaitForStateAsync(s => s.Nodes["n2"].LagBytes > maxLag && Serving(s, "n3"), AgentScenario.Long, "n2 logged as lagging over 1 MB");
        output.WriteLine($"n2 lag logged: {lagging.Nodes["n2"].LagBytes} bytes");
        await ReadsSpreadOverAsync(reads, [n3], "the replica port to leave the lagging n2 out");

        // Replaying again, it is back within the limit and takes reads again.
        await ExecuteAsync(agents, "n2", "SELECT pg_wal_replay_resume()");
        await agents.WaitForStateAsync(s => Serving(s, "n2"), AgentScenario.Long, "n2 back within the lag limit");
        await ReadsSpreadOverAsync(reads, [n2, n3], "the replica port to take n2 back");

        // A detached replica gets no reads either.
        var detach = await PghaProcess.RunAsync("detach", "--config", agents.Configs["n1"], "--node", "n3", "--reason", "maintenance");
        Assert.True(detach.ExitCode == 0, $"{detach.Output}{detach.Error}");
        await ReadsSpreadOverAsync(reads, [n2], "the replica port to leave the detached n3 out");

        var history = await agents.HistoryAsync();
        // Logged when it changes, not at every tick.
        Assert.InRange(history.Count(e => e.Event is HA.Core.Events.ReplicationStateChanged), 4, 14);
    }

    private static async Task ExecuteAsync(AgentCluster agents, string node, string sql)
    {
        await using var connection = new NpgsqlConnection(agents.ConnectionString(node) + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static bool Serving(ClusterState state, string node) =>
        state.Nodes[node] is { Replication: HA.Core.Events.ReplicationStatus.Streaming, Detached: false } view && (view.LagBytes ?? 0) <= 1024 * 1024;

    /// <summary>
    /// Waits until eight new connections through the replica port reach exactly the given servers (all of
    /// them, nothing else, each a standby), then checks eight more do the same: the routing settled there.
    /// </summary>
    private static async Task<List<(int Port, bool InRecovery)>> ReadsSpreadOverAsync(string reads, int[] servers, string what)
    {
        async Task<List<(int Port, bool InRecovery)>> EightAsync()
        {
            var seen = new List<(int Port, bool InRecovery)>();
            for (var i = 0; i < 8; i++) seen.Add(await NewConnectionServerAsync(reads));
            return seen;
        }
        bool Exactly(List<(int Port, bool InRecovery)> seen) => seen.All(x => x.InRecovery) && seen.Select(x => x.Port).Distinct().Order().SequenceEqual(servers.Order());
        await Eventually.HoldsAsync(EightAsync, Exactly, AgentScenario.Long, what);
        var again = await EightAsync();
        Assert.True(Exactly(again), $"{what}: then {string.Join(", ", again)}");
        return again;
    }

    [Fact]
    public async Task after_a_switchover_the_old_primarys_connection_is_closed_and_new_ones_reach_the_new_primary()
    {
        await using var cluster = await StartAsync(TimeSpan.FromSeconds(10));
        var (agents, proxy) = (cluster.Agents, cluster.ThroughProxy());
        var n2Port = agents.Instance("n2").Settings.Port;
        await using var old = new NpgsqlConnection(proxy);
        await old.OpenAsync();

        var run = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n3"], "--to", "n2");
        Assert.True(run.ExitCode == 0, $"{run.Output}{run.Error}\n{agents.AgentLogs()}");
        await agents.WaitForStateAsync(s => s.Primary == "n2" && s.Nodes["n1"].Role == NodeRole.Replica, AgentScenario.Long, "n1 following n2");
        await Eventually.HoldsAsync(() => ClosedAsync(old), s => s.StartsWith("closed", StringComparison.Ordinal), AgentScenario.Long, "the connection to n1 to be closed");
        await Eventually.HoldsAsync(() => NewConnectionServerAsync(proxy), s => s == (n2Port, false), AgentScenario.Long, "new connections through the proxy to reach n2");
    }
}
