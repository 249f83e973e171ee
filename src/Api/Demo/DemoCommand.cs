using System.Diagnostics;
using System.Globalization;
using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Api.Cli;
using HA.Core.Errors;
using HA.Core.History;
using HA.Core.Replication;
using HA.Projections;

namespace HA.Api.Demo;

/// <summary>
/// <c>pgha demo</c>: builds (or reuses) a witness and a streaming cluster on loopback, prints how to
/// connect, and supervises it until Ctrl-C or SIGTERM, when it stops every instance it started.
/// </summary>
public static class DemoCommand
{
    public const string Help = """
        pgha demo — run a complete local pgha cluster on loopback (the embedded default)

        usage: pgha demo [--dir DIR] [--reset] [--nodes N] [--base-port PORT] [--topology FILE] [--pg-bin DIR] [--synchronous MODE]
               pgha demo status [--dir DIR] [--json]
               pgha demo destroy [--dir DIR]
               pgha demo add-replica [--dir DIR] [--name NAME]
               pgha demo remove-node NAME [--dir DIR] [--force]

        Creates under DIR (default ./.pgha-demo) a witness PostgreSQL and a cluster of N nodes (default 3:
        a primary and two streaming replicas), waits until every replica streams, prints the nodes with
        their connection strings, and keeps running until Ctrl-C or SIGTERM, when it stops them all.
        A second run reuses DIR and starts what is stopped.

        options:
          --dir DIR          where the demo lives (default ./.pgha-demo)
          --reset            destroy what DIR holds and build from scratch
          --nodes N          1 primary + N-1 replicas (1-16, default 3)
          --base-port PORT   witness on PORT, nodes on PORT+1.. (default 15432)
          --topology FILE    JSON or YAML topology: cluster, listen_address, base_port, witness.port,
                             nodes (name, port) or replicas (a count); the first node starts as primary
          --pg-bin DIR       PostgreSQL's bin directory (default: pg_config, then /usr/lib/postgresql/*/bin)
          --synchronous MODE synchronous replication: off (default), on (one synchronous standby) or quorum
                             (ANY 1 of every replica); remembered in DIR for the next runs

        status               what runs, healthy or not (exit 0 when all healthy, 3 when not); --json for scripts
        destroy              stop everything the demo started and remove DIR
        add-replica          add a node to the running demo: free ports, its pgha.yaml next to the others; the
                             supervisor starts its agent, which joins the cluster and takes a base backup from
                             the primary; waits until it streams and prints its connection string
                             (--name NAME, default the next free nN)
        remove-node NAME     take NAME out of the running demo: NodeLeft (refused for the primary and, without
                             --force, the last replica that could take over), its agent stops its PostgreSQL
                             and exits, the primary drops its slot; then its files are removed

        examples:
          pgha demo
          pgha demo --reset --nodes 5 --base-port 26000
          pgha demo --topology cluster.yaml
          pgha demo --synchronous on
          pgha demo status --json
          pgha demo add-replica
          pgha demo add-replica --name reports
          pgha demo remove-node n4
          pgha demo destroy
        """;

    private static readonly TimeSpan StreamingTimeout = TimeSpan.FromSeconds(120);

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken stopping)
    {
        var sub = arguments.Count > 0 && !arguments[0].StartsWith('-') ? arguments[0] : null;
        var rest = sub is null ? arguments : arguments.Skip(1).ToList();
        switch (sub)
        {
            case null:
                return await RunDemoAsync(CommandLine.Parse("pgha demo", rest, ["--dir", "--nodes", "--base-port", "--topology", "--pg-bin", "--synchronous"], ["--reset"]), output, stopping);
            case "status":
                return await DemoStatusCommand.RunAsync(CommandLine.Parse("pgha demo status", rest, ["--dir"], ["--json"]), output, stopping);
            case "destroy":
                return await DemoDestroyCommand.RunAsync(CommandLine.Parse("pgha demo destroy", rest, ["--dir"], []), output, stopping);
            case "add-replica":
                return await DemoAddReplicaCommand.RunAsync(CommandLine.Parse("pgha demo add-replica", rest, ["--dir", "--name"], []), output, stopping);
            case "remove-node":
                return await DemoRemoveNodeCommand.RunAsync(CommandLine.Parse("pgha demo remove-node", rest, ["--dir"], ["--force"]), output, stopping);
            default:
                throw new HA.Core.Errors.UsageError($"unknown demo command '{sub}'; expected status, destroy, add-replica or remove-node (see 'pgha demo --help')");
        }
    }

    private static async Task<int> RunDemoAsync(CommandLine cli, TextWriter output, CancellationToken stopping)
    {
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var directory = new DemoDirectory(cli.Value("--dir") ?? DemoDirectory.DefaultPath);
        var requested = RequestedTopology(cli);
        var synchronous = cli.Value("--synchronous") is { } mode
            ? mode is "off" or "on" or "quorum" ? mode : throw new HA.Core.Errors.UsageError($"--synchronous '{mode}' is not one of off, on, quorum")
            : null;

        if (File.Exists(directory.Path)) throw new DemoError($"--dir {directory.Path} is a file, not a directory");
        if (directory.SupervisorPid() is { } running)
            throw new DemoError($"a demo is already running in {directory.Path} (pid {running}); stop it with Ctrl-C there, or run 'pgha demo destroy --dir {directory.Path}'");

        if (cli.Has("--reset") && directory.Exists)
        {
            if (!directory.HoldsDemo && !directory.IsEmptyOrMissing)
                throw new DemoError($"{directory.Path} is not a pgha demo directory (no demo.json): --reset will not remove it");
            await DemoDestroyCommand.DestroyAsync(directory, output, stopping);
        }

        DemoState state;
        var fresh = !directory.HoldsDemo;
        if (fresh)
        {
            if (!directory.IsEmptyOrMissing)
                throw new DemoError($"{directory.Path} exists and is not a pgha demo directory (no demo.json); choose another --dir");
            state = DemoState.From(requested ?? LocalTopology.Generate("demo", 3, LocalTopology.DefaultBasePort),
                ClusterCredentials.Generate(), cli.Value("--pg-bin"), DateTimeOffset.UtcNow);
        }
        else
        {
            state = directory.Load();
            if (requested is not null && !SameTopology(requested, state.Topology))
                throw new DemoError($"{directory.Path} already holds cluster '{state.Cluster}' ({Describe(state.Topology)}); run with --reset to rebuild it as {Describe(requested)}");
        }

        var options = new LocalClusterOptions { BinDirectory = cli.Value("--pg-bin") ?? state.PgBinDirectory };
        var cluster = await LocalCluster.OpenAsync(directory.Path, state.Topology, state.Credentials, options, stopping);

        output.WriteLine(fresh
            ? $"pgha demo: creating cluster '{state.Cluster}' in {directory.Path}: {Describe(state.Topology)} (PostgreSQL {cluster.Binaries.MajorVersion})"
            : $"pgha demo: starting cluster '{state.Cluster}' from {directory.Path}: {Describe(state.Topology)}");
        if (state.GossipSecret is null) state = state with { GossipSecret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)) };
        if (state.ApiToken is null) state = state with { ApiToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)) };
        if (synchronous is not null) state = state with { SynchronousMode = synchronous };
        directory.Save(state);
        directory.WritePid();
        using var supervised = new Supervised(directory, state, cluster, options);
        DemoAgents? agents = null;
        var clock = Stopwatch.StartNew();
        cluster.Progress = step => output.WriteLine($"  {clock.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture),6} s  {step}");
        try
        {
            await cluster.StartAsync(stopping, removeOnFailure: fresh);
            await cluster.WaitForStreamingAsync(StreamingTimeout, stopping);
            cluster.Progress = null;
            var replicas = cluster.Nodes.Count - 1;
            output.WriteLine(replicas == 0
                ? $"ready: primary {cluster.CurrentPrimary().Settings.Name} running after {clock.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s"
                : $"ready: {replicas} replicas streaming from {cluster.CurrentPrimary().Settings.Name} after {clock.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s");
            output.WriteLine();
            var snapshot = await DemoSnapshot.TakeAsync(cluster, directory, stopping);
            output.Write(snapshot.Table());
            output.WriteLine();

            var configs = LocalAgentConfig.Write(cluster, AgentSettings(state));
            agents = new DemoAgents(directory.Path, configs, output);
            agents.StartAll();
            await using var witness = await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = cluster.WitnessConnectionString() + ";Timeout=5" }, stopping);
            var recorded = await WaitForAgentsAsync(witness, state.Cluster, output, stopping);
            output.WriteLine($"agents: {string.Join(", ", agents.Running.Select(a => $"{a.Node} (pid {a.Pid})"))} manage the cluster; coordinator {recorded.Coordinator}; logs in {directory.Path}/<node>/agent.log");
            output.WriteLine($"Connect with: psql '{cluster.ClientUri(cluster.CurrentPrimary())}'");
            var (proxyPrimary, proxyReplica) = ProxyPorts(state.GossipPorts[0]);
            var superuser = cluster.CurrentPrimary().Settings.Superuser;
            output.WriteLine($"Through {cluster.Nodes[0].Settings.Name}'s proxy (follows failovers): psql 'postgresql://{superuser}:{state.SuperuserPassword}@{state.ListenAddress}:{proxyPrimary}/postgres' (primary),");
            output.WriteLine($"        psql 'postgresql://{superuser}:{state.SuperuserPassword}@{state.ListenAddress}:{proxyReplica}/postgres' (replicas in turn); every agent runs one (docs/proxy.md)");
            output.WriteLine($"The API: http://{state.ListenAddress}:{state.GossipPorts[0]}/api/v1 on {cluster.Nodes[0].Settings.Name} (each node on its gossip port); changes need the token {state.ApiToken}");
            output.WriteLine("        pgha status, pgha switchover --to n2, pgha pause ... in this directory find the demo's nodes and token by themselves (docs/api.md)");
            output.WriteLine($"Try it: kill -9 the primary's postmaster (head -1 {cluster.CurrentPrimary().Settings.DataDirectory}/postmaster.pid): its agent restarts it in place;");
            output.WriteLine($"        kill -9 its agent too (pkill -9 -f {LocalAgentConfig.PathFor(cluster, cluster.CurrentPrimary().Settings.Name)}): a replica takes over.");
            output.WriteLine($"pgha demo is running. Ctrl-C stops it; the data stays in {directory.Path} ('pgha demo destroy' removes it).");
            await output.FlushAsync(stopping);
            await SuperviseAsync(supervised, snapshot, agents, witness, recorded.Version, output, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Ctrl-C or SIGTERM: fall through to the orderly stop.
        }
        finally
        {
            if (agents is not null)
            {
                output.WriteLine("pgha demo: stopping the agents");
                await agents.StopAsync(TimeSpan.FromSeconds(60));
            }
            if (Directory.Exists(directory.Path))
            {
                output.WriteLine("pgha demo: stopping every instance");
                await supervised.Cluster.StopAsync(StopMode.Fast, CancellationToken.None);
                directory.RemovePid();
                output.WriteLine("pgha demo: stopped");
            }
            supervised.Guard.Disarm();
        }
        return 0;
    }

    /// <summary>
    /// The demo's agents use pgha's defaults but a shorter lease (10 s), so a lost node is replaced quickly.
    /// Each agent runs a proxy: primary port = its gossip port + 100, replica port = its gossip port + 200.
    /// </summary>
    internal static LocalAgentSettings AgentSettings(DemoState state)
    {
        return new LocalAgentSettings
        {
            GossipSecret = state.GossipSecret!,
            ApiToken = state.ApiToken,
            GossipPorts = state.GossipPorts,
            ProxyPorts = [.. state.GossipPorts.Select(ProxyPorts)],
            LeaseTtl = TimeSpan.FromSeconds(10),
            FenceMargin = TimeSpan.FromSeconds(3),
            PrimaryRestartTimeout = TimeSpan.FromSeconds(10),
            SynchronousMode = state.SynchronousMode is null or "off" ? null : state.SynchronousMode,
        };
    }

    /// <summary>A demo node's proxy ports, derived from its gossip port (the demo's ports are spaced so they do not meet).</summary>
    internal static (int Primary, int Replica) ProxyPorts(int gossipPort) => (gossipPort + 100, gossipPort + 200);

    private static async Task<HA.Core.State.ClusterState> WaitForAgentsAsync(WitnessStore witness, string cluster, TextWriter output, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var state = await witness.StateAsync(cluster, stopping);
                if (state.Coordinator is not null) return state;
            }
            catch (UnknownClusterError)
            {
                // Not bootstrapped yet.
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new DemoError("the agents did not record the cluster within 60 s; see each node's agent.log in the demo directory");
            await Task.Delay(200, stopping);
        }
    }

    /// <summary>
    /// What the supervisor keeps running: the cluster as demo.json describes it and the orphan guard that stops
    /// it if the supervisor dies. <c>pgha demo add-replica</c> and <c>remove-node</c> change demo.json; the
    /// supervisor notices within a second, arms a guard for the new set of nodes and starts or lets go of agents.
    /// </summary>
    private sealed class Supervised : IDisposable
    {
        private readonly DemoDirectory _directory;
        private readonly LocalClusterOptions _options;

        public Supervised(DemoDirectory directory, DemoState state, LocalCluster cluster, LocalClusterOptions options)
        {
            (_directory, _options, State, Cluster) = (directory, options, state, cluster);
            Guard = ArmGuard(cluster);
        }

        public DemoState State { get; private set; }
        public LocalCluster Cluster { get; private set; }
        public OrphanGuard Guard { get; private set; }
        public DemoDirectory Directory => _directory;

        private OrphanGuard ArmGuard(LocalCluster cluster) =>
            OrphanGuard.Arm(DemoAgents.KillScript(_directory.Path) + cluster.CleanupScript(StopMode.Fast, removeDirectory: false), Path.Combine(_directory.Path, "orphan-guard.log"));

        /// <summary>Reads demo.json again; when its nodes changed, follows them and returns each node's pgha.yaml (rewritten: every member lists every node).</summary>
        public async Task<IReadOnlyDictionary<string, string>?> ReloadAsync(CancellationToken cancellationToken)
        {
            DemoState now;
            try
            {
                now = _directory.Load();
            }
            catch (Exception e) when (e is DemoError or IOException)
            {
                return null; // removed or unreadable for a moment: look again next round
            }
            if (now.Nodes.Select(n => (n.Name, n.Port)).SequenceEqual(State.Nodes.Select(n => (n.Name, n.Port)))) return null;
            var cluster = await LocalCluster.OpenAsync(_directory.Path, now.Topology, now.Credentials, _options, cancellationToken, preflight: false);
            var guard = ArmGuard(cluster);
            Guard.Dispose();
            (State, Cluster, Guard) = (now, cluster, guard);
            return LocalAgentConfig.Write(cluster, AgentSettings(now));
        }

        public void Dispose() => Guard.Dispose();
    }

    /// <summary>Reports every change of a node's state and every event the agents record, and keeps the agents running, until stopped.</summary>
    private static async Task SuperviseAsync(Supervised supervised, DemoSnapshot last, DemoAgents agents, WitnessStore witness, long version, TextWriter output, CancellationToken stopping)
    {
        var clusterName = supervised.State.Cluster;
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), stopping);
            if (await supervised.ReloadAsync(stopping) is { } configs)
            {
                output.WriteLine($"{DateTime.Now:HH:mm:ss} nodes now {string.Join(", ", configs.Keys)} ({supervised.Directory.StateFile} changed)");
                await agents.SyncAsync(configs, stopping);
            }
            await agents.SuperviseAsync(stopping);
            var cluster = supervised.Cluster;
            var directory = supervised.Directory;
            try
            {
                var page = await witness.EventsAsync(clusterName, new HistoryFilter { AfterVersion = version, Limit = 100 }, stopping);
                foreach (var e in page.Events)
                {
                    output.WriteLine($"{e.At.ToLocalTime():HH:mm:ss} event {e.Version}: {EventLine.Describe(e)}");
                    version = e.Version;
                }
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                // The witness is down: the agents go on without it.
            }
            var now = await DemoSnapshot.TakeAsync(cluster, directory, stopping);
            foreach (var row in now.Nodes)
            {
                var before = last.Nodes.FirstOrDefault(n => n.Name == row.Name);
                if (before is null || before.Role != row.Role || before.State != row.State)
                    output.WriteLine($"{DateTime.Now:HH:mm:ss} {row.Name}: {row.Role} {row.State}" + (before is null ? "" : $" (was {before.Role} {before.State})"));
            }
            await output.FlushAsync(stopping);
            last = now;
        }
    }

    private static LocalTopology? RequestedTopology(CommandLine cli)
    {
        var nodes = cli.Integer("--nodes", 1, 16);
        var basePort = cli.Integer("--base-port", 1024, 65535 - 16);
        var file = cli.Value("--topology");
        if (file is not null)
        {
            if (nodes is not null) throw new HA.Core.Errors.UsageError("--nodes and --topology cannot be combined: give the node count in the topology file (nodes or replicas)");
            return TopologyFile.Load(file, basePort ?? LocalTopology.DefaultBasePort);
        }
        if (nodes is null && basePort is null) return null;
        return LocalTopology.Generate("demo", nodes ?? 3, basePort ?? LocalTopology.DefaultBasePort);
    }

    private static bool SameTopology(LocalTopology a, LocalTopology b) =>
        a.ClusterName == b.ClusterName && a.WitnessPort == b.WitnessPort && a.ListenAddress == b.ListenAddress &&
        a.Nodes.SequenceEqual(b.Nodes);

    private static string Describe(LocalTopology topology) =>
        $"witness on {topology.WitnessPort}, {topology.Nodes.Count} node(s) {string.Join(", ", topology.Nodes.Select(n => $"{n.Name}:{n.Port}"))} on {topology.ListenAddress}";
}
