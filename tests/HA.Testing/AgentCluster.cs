using System.Diagnostics;
using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Core.History;
using HA.Core.State;
using HA.Projections;

namespace HA.Testing;

/// <summary>
/// A real local cluster managed by real agents: a <see cref="TestCluster"/> (witness + primary +
/// replicas) with one <c>pgha run</c> process per node, started from the pgha.yaml files pgha writes
/// for local clusters. Agents and PostgreSQL can be killed and started again one by one; the witness
/// store is read for the state and the history. Disposing stops the agents, then the cluster.
/// </summary>
public sealed class AgentCluster : IAsyncDisposable
{
    private readonly Dictionary<string, PghaProcess> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _logs = new(StringComparer.Ordinal);
    private readonly FreePorts _gossipPorts;
    private readonly Dictionary<string, string> _configs;
    private readonly Dictionary<string, (PostgresInstance Instance, FreePorts Ports, OrphanGuard Guard)> _added = new(StringComparer.Ordinal);

    private AgentCluster(TestCluster cluster, FreePorts gossipPorts, LocalAgentSettings settings, IReadOnlyDictionary<string, string> configs, WitnessStore witness)
    {
        Cluster = cluster;
        _gossipPorts = gossipPorts;
        Settings = settings;
        _configs = new Dictionary<string, string>(configs, StringComparer.Ordinal);
        Witness = witness;
    }

    public TestCluster Cluster { get; }
    public LocalAgentSettings Settings { get; }
    public IReadOnlyDictionary<string, string> Configs => _configs;
    public WitnessStore Witness { get; }
    public string Name => Cluster.Cluster.Topology.ClusterName;

    /// <summary>The nodes the cluster was built with, then those prepared with <see cref="PrepareNodeAsync"/>.</summary>
    public IEnumerable<string> Nodes => Cluster.Cluster.Nodes.Select(n => n.Settings.Name).Concat(_added.Keys);

    /// <summary>A node's PostgreSQL, whether the cluster was built with it or it was added later.</summary>
    public PostgresInstance Instance(string node) => _added.TryGetValue(node, out var added) ? added.Instance : Cluster.Cluster.Node(node);

    /// <summary>
    /// Writes the pgha.yaml of a node that is not part of the cluster yet (free PostgreSQL and gossip
    /// ports, an empty node directory next to the others; its members: every node and itself), as an
    /// operator adding a replica would; <see cref="StartAgent"/> then runs it. Its PostgreSQL is stopped
    /// on dispose (and by an orphan guard if the test process dies).
    /// </summary>
    public async Task<string> PrepareNodeAsync(string name)
    {
        var ports = FreePorts.Reserve(2);
        var local = Cluster.Cluster;
        var topology = local.Topology with { Nodes = [.. local.Topology.Nodes, .. _added.Select(a => new LocalNodeSpec(a.Key, a.Value.Instance.Settings.Port)), new LocalNodeSpec(name, ports.Ports[0])] };
        var grown = await LocalCluster.OpenAsync(local.Directory, topology, local.Credentials, new LocalClusterOptions { BinDirectory = local.Binaries.BinDirectory }, default, preflight: false);
        var gossip = Settings.GossipPorts.Concat(_added.Values.Select(a => a.Ports.Ports[1])).Append(ports.Ports[1]).ToList();
        var path = LocalAgentConfig.PathFor(grown, name);
        await File.WriteAllTextAsync(path, LocalAgentConfig.Render(grown, Settings with { GossipPorts = gossip }, name));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var instance = grown.Node(name);
        // The fixture's nodes take their settings (max_connections among them) from the file pgha manages,
        // which the new node's agent writes without them; a base backup copies postgresql.auto.conf, so
        // the new node runs with the same settings — a standby with fewer connections than its primary stops replaying.
        var primary = Instance((await StateAsync())?.Primary ?? local.CurrentPrimary().Settings.Name);
        foreach (var (key, value) in primary.Settings.Parameters)
            await NodeSql.ExecuteAsync(primary.Settings, $"ALTER SYSTEM SET {key} = '{value.Replace("'", "''", StringComparison.Ordinal)}'", default);
        var guard = OrphanGuard.Arm(StopScript(instance), Path.Combine(Path.GetTempPath(), "pgha-test-orphan-guard.log"));
        _added[name] = (instance, ports, guard);
        _configs[name] = path;
        return path;
    }

    private string StopScript(PostgresInstance instance)
    {
        var data = "'" + instance.Settings.DataDirectory.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var runAs = Cluster.Cluster.OsUser.RunAs is null ? "" : $"runuser -u {Cluster.Cluster.OsUser.RunAs} -- ";
        return $"if [ -f {data}/postmaster.pid ]; then {runAs}'{Cluster.Cluster.Binaries.Path("pg_ctl")}' stop -D {data} -m immediate -w -t 30 -s || kill -9 \"$(head -1 {data}/postmaster.pid)\"; fi\n";
    }

    /// <summary>Builds the cluster and starts an agent per node (unless <paramref name="startAgents"/> is false).</summary>
    public static async Task<AgentCluster> StartAsync(Func<LocalAgentSettings, LocalAgentSettings>? configure = null, int nodes = 3, bool startAgents = true)
    {
        var cluster = await TestCluster.StartAsync(nodes);
        FreePorts? gossip = null;
        try
        {
            gossip = FreePorts.Reserve(nodes);
            var settings = new LocalAgentSettings
            {
                GossipSecret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
                ApiToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)),
                GossipPorts = gossip.Ports,
            };
            settings = configure?.Invoke(settings) ?? settings;
            var configs = LocalAgentConfig.Write(cluster.Cluster, settings);
            var witness = await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = WitnessConnectionString(cluster.Cluster) });
            var agents = new AgentCluster(cluster, gossip, settings, configs, witness);
            if (startAgents)
            {
                foreach (var node in agents.Nodes) agents.StartAgent(node);
            }
            return agents;
        }
        catch
        {
            gossip?.Dispose();
            await cluster.DisposeAsync();
            throw;
        }
    }

    public static string WitnessConnectionString(LocalCluster cluster) =>
        cluster.WitnessConnectionString() + ";Pooling=false;Timeout=5";

    /// <summary>A connection string reaching <paramref name="node"/>'s PostgreSQL directly, as a client would.</summary>
    public string ConnectionString(string node) =>
        $"Host={Cluster.Cluster.Topology.ListenAddress};Port={Instance(node).Settings.Port};Username=postgres;Password={Cluster.Cluster.Credentials.SuperuserPassword};Database=postgres";

    /// <summary>The base URL of a node's HTTP endpoints (local clusters listen on the TCP port numbered as their gossip port).</summary>
    public string ApiUrl(string node)
    {
        var index = Nodes.ToList().IndexOf(node);
        return $"http://127.0.0.1:{Settings.GossipPorts[index]}";
    }

    /// <summary>The api.token every node's pgha.yaml holds (what the API's changes need).</summary>
    public string ApiToken => Settings.ApiToken ?? throw new InvalidOperationException("this cluster's agents have no api.token");

    public IReadOnlyDictionary<string, string> ConnectionStrings => Nodes.ToDictionary(n => n, ConnectionString, StringComparer.Ordinal);

    /// <param name="environment">variables the agent gets besides this process's (NOTIFY_SOCKET, for instance)</param>
    public PghaProcess StartAgent(string node, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (_agents.TryGetValue(node, out var running) && !running.HasExited) throw new InvalidOperationException($"the agent of {node} is already running");
        if (running is not null) _logs[node] = _logs.GetValueOrDefault(node, "") + running.Output + running.Error;
        return _agents[node] = PghaProcess.Start(environment, "run", "--config", Configs[node]);
    }

    /// <summary>The last agent process started for <paramref name="node"/>.</summary>
    public PghaProcess Agent(string node) => _agents[node];

    /// <summary>Waits until every running agent has finished starting (its queues listen, its loops run).</summary>
    public async Task WaitForAgentsStartedAsync(TimeSpan timeout)
    {
        foreach (var agent in _agents.Values.Where(a => !a.HasExited))
            await agent.WaitForOutputAsync("pgha run: node ", timeout);
    }

    /// <summary>kill -9 of the agent process (its watchdog then stops a primary it was keeping).</summary>
    public void KillAgent(string node)
    {
        var agent = _agents[node];
        agent.Signal("KILL");
        agent.WaitForExitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
    }

    /// <summary>kill -9 of the node's postmaster.</summary>
    public void KillPostgres(string node)
    {
        var pid = Instance(node).ServerProcessId() ?? throw new InvalidOperationException($"PostgreSQL of {node} is not running");
        Process.GetProcessById(pid).Kill();
    }

    /// <summary>Everything the agents printed so far (for failure messages).</summary>
    public string AgentLogs() => string.Join("\n", Nodes.Select(n =>
        $"----- agent {n}\n{_logs.GetValueOrDefault(n, "")}{(_agents.TryGetValue(n, out var a) ? a.Output + a.Error : "(not started)")}"));

    public async Task<ClusterState?> StateAsync()
    {
        try { return await Witness.StateAsync(Name); }
        catch (UnknownClusterError) { return null; }
    }

    /// <summary>Waits until the projected state satisfies <paramref name="condition"/>; fails with the agents' logs.</summary>
    public async Task<ClusterState> WaitForStateAsync(Func<ClusterState, bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        ClusterState? last = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                last = await StateAsync();
                if (last is not null && condition(last)) return last;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                // The witness may be down on purpose.
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:0} s. Last state: primary {last?.Primary} term {last?.Term} version {last?.Version} " +
            $"failover {last?.Failover?.Id} nodes {string.Join(", ", last?.Nodes.Values.Select(n => $"{n.Name}:{n.Role}/{n.Health}") ?? [])}\n{AgentLogs()}");
    }

    public async Task<IReadOnlyList<RecordedEvent>> HistoryAsync()
    {
        var events = new List<RecordedEvent>();
        long? after = null;
        while (true)
        {
            var page = await Witness.EventsAsync(Name, new HistoryFilter { AfterVersion = after, Limit = 1000 });
            events.AddRange(page.Events);
            if (page.NextAfterVersion is null) return events;
            after = page.NextAfterVersion;
        }
    }

    /// <summary>The ids of the acknowledged-writes table on <paramref name="node"/>.</summary>
    public async Task<IReadOnlySet<long>> WrittenIdsAsync(string node)
    {
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString(node));
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"SELECT id FROM {Checking.WriteRecorder.Table}", connection);
        var ids = new HashSet<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        return ids;
    }

    /// <summary>
    /// Stops <paramref name="writes"/> and holds the whole run to DESIGN §3: one writer, acknowledged
    /// writes kept (within <paramref name="allowedLoss"/>), the log's invariants, replay = state.
    /// </summary>
    public async Task<Checking.HistoryCheck> CheckAsync(Checking.WriteRecorder writes, int allowedLoss)
    {
        await writes.StopAsync();
        var state = await StateAsync() ?? throw new InvalidOperationException("no state");
        var present = await WrittenIdsAsync(state.Primary!);
        // Agents may append after the state was read: the history up to its version must replay to it.
        var history = (await HistoryAsync()).Where(e => e.Version <= state.Version).ToList();
        return Checking.HistoryChecker.Check(writes.Attempts, new Checking.SurvivingWrites(state.Primary!, present, allowedLoss), history, state);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents.Values) await agent.DisposeAsync();
        foreach (var (instance, ports, guard) in _added.Values)
        {
            try { await instance.StopAsync(StopMode.Immediate, CancellationToken.None); }
            catch (HA.Core.Errors.OperatorError) { guard.Fire(); }
            guard.Dispose();
            ports.Dispose();
        }
        await Witness.DisposeAsync();
        _gossipPorts.Dispose();
        await Cluster.DisposeAsync();
    }
}
