using System.Diagnostics;
using System.Text;
using HA.Agent.Postgres;
using HA.Core.Errors;
using HA.Core.Replication;
using Npgsql;

namespace HA.Agent.Local;

/// <summary>A local cluster the topology cannot describe or the machine cannot host (duplicate names, a port in use).</summary>
public sealed class TopologyError(string message) : OperatorError(message);

/// <summary>Options of a local cluster beyond its topology.</summary>
public sealed record LocalClusterOptions
{
    /// <summary>The PostgreSQL bin directory (config key postgresql.bin_dir); null searches for it.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>The OS user PostgreSQL runs as when pgha runs as root (postgresql.os_user).</summary>
    public string? OsUser { get; init; }

    /// <summary>Extra postgresql.conf settings for every node.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A witness PostgreSQL and a primary with streaming replicas on one machine, each node in its own
/// directory under <see cref="Directory"/>: what <c>pgha demo</c> runs and what tests stand on.
/// Everything is checked before anything is created, and a first creation that fails is rolled back.
/// </summary>
public sealed class LocalCluster
{
    private LocalCluster(string directory, LocalTopology topology, ClusterCredentials credentials, PostgresBinaries binaries, PostgresOsUser osUser, LocalClusterOptions options)
    {
        Directory = directory;
        Topology = topology;
        Credentials = credentials;
        Binaries = binaries;
        OsUser = osUser;
        Witness = new PostgresInstance(SettingsFor(LocalTopology.WitnessName, topology.WitnessPort, options), binaries, osUser);
        Nodes = topology.Nodes.Select(n => new PostgresInstance(SettingsFor(n.Name, n.Port, options), binaries, osUser)).ToList();
    }

    public string Directory { get; }
    public LocalTopology Topology { get; }
    public ClusterCredentials Credentials { get; }
    public PostgresBinaries Binaries { get; }
    public PostgresOsUser OsUser { get; }
    public PostgresInstance Witness { get; }
    public IReadOnlyList<PostgresInstance> Nodes { get; }

    /// <summary>Told of each step as it completes ("n2: base backup from n1 done"), for progress output.</summary>
    public Action<string>? Progress { get; set; }

    /// <summary>Every instance, the witness first.</summary>
    public IEnumerable<PostgresInstance> Instances => Nodes.Prepend(Witness);

    public PostgresInstance Node(string name) =>
        Nodes.FirstOrDefault(n => n.Settings.Name == name) ?? throw new ArgumentException($"no node named '{name}' in cluster {Topology.ClusterName}", nameof(name));

    /// <summary>
    /// Validates the topology, finds PostgreSQL, checks the directories and ports, and returns the
    /// cluster without creating or starting anything.
    /// </summary>
    public static async Task<LocalCluster> OpenAsync(string directory, LocalTopology topology, ClusterCredentials credentials, LocalClusterOptions options, CancellationToken cancellationToken, bool preflight = true)
    {
        var problems = topology.Problems();
        if (problems.Count > 0) throw new TopologyError(problems[0] + (problems.Count > 1 ? $" (and {problems.Count - 1} more problem(s))" : ""));

        var fullDirectory = Path.GetFullPath(directory);
        var binaries = await PostgresBinaries.LocateAsync(options.BinDirectory, cancellationToken).ConfigureAwait(false);
        var osUser = await PostgresOsUser.ResolveAsync(options.OsUser, cancellationToken).ConfigureAwait(false);
        var cluster = new LocalCluster(fullDirectory, topology, credentials, binaries, osUser, options);
        if (preflight) await cluster.PreflightAsync(cancellationToken).ConfigureAwait(false);
        return cluster;
    }

    private async Task PreflightAsync(CancellationToken cancellationToken)
    {
        var existing = Directory;
        while (!System.IO.Directory.Exists(existing)) existing = Path.GetDirectoryName(existing) ?? "/";
        await OsUser.EnsureCanReachAsync(existing, cancellationToken).ConfigureAwait(false);

        foreach (var instance in Instances)
        {
            foreach (var path in new[] { instance.Settings.NodeDirectory, instance.Settings.DataDirectory })
            {
                if (!System.IO.Directory.Exists(path) || !System.IO.Directory.EnumerateFileSystemEntries(path).Any()) continue;
                var (uid, name) = await PostgresOsUser.OwnerOfAsync(path, cancellationToken).ConfigureAwait(false);
                if (uid != OsUser.Uid)
                    throw new DataDirectoryError(
                        $"{path} (node {instance.Settings.Name}) is owned by '{name}' (uid {uid}), not by '{OsUser.Name}': pgha will not take over a directory it does not own; remove it or choose another directory");
            }
            if (System.IO.Directory.Exists(instance.Settings.DataDirectory) && System.IO.Directory.EnumerateFileSystemEntries(instance.Settings.DataDirectory).Any() && !instance.DataDirectoryExists)
                throw new DataDirectoryError($"{instance.Settings.DataDirectory} (node {instance.Settings.Name}) is not empty and holds no PostgreSQL cluster; remove it or choose another directory");
        }

        foreach (var instance in Instances)
        {
            // A port held by this very node, still running from an earlier run, is ours to reuse.
            if (instance.ServerProcessId() is not null) continue;
            if (!PortCheck.IsFree(Topology.ListenAddress, instance.Settings.Port))
                throw new TopologyError(
                    $"port {instance.Settings.Port} ({(instance == Witness ? "witness" : "node " + instance.Settings.Name)}) is already in use on {Topology.ListenAddress}; choose other ports (--base-port or the topology file)");
        }
    }

    /// <summary>
    /// Creates what does not exist yet (witness, primary, replicas from the current primary) and
    /// starts what is stopped.
    /// </summary>
    /// <param name="removeOnFailure">true for a cluster being created from nothing: a failure (or a
    /// cancellation) stops what started and removes the whole directory.</param>
    public async Task StartAsync(CancellationToken cancellationToken, bool removeOnFailure = false)
    {
        System.IO.Directory.CreateDirectory(Directory);
        try
        {
            await StartOrCreateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch when (removeOnFailure)
        {
            await DestroyAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartOrCreateAsync(CancellationToken cancellationToken)
    {
        var primary = CurrentPrimary();
        await Task.WhenAll(
            EnsureWitnessAsync(cancellationToken),
            EnsurePrimaryAsync(primary, cancellationToken)).ConfigureAwait(false);

        var source = new ReplicationSource(Topology.ListenAddress, primary.Settings.Port);
        await Task.WhenAll(Nodes.Where(n => n != primary).Select(async replica =>
        {
            if (!replica.DataDirectoryExists)
            {
                await replica.CreateReplicaAsync(source, Credentials, cancellationToken).ConfigureAwait(false);
                Progress?.Invoke($"{replica.Settings.Name}: base backup from {primary.Settings.Name} done");
            }
            await EnsureRunningAsync(replica, initialize: false, cancellationToken).ConfigureAwait(false);
        })).ConfigureAwait(false);
    }

    /// <summary>The database on the witness that holds pgha's own schema (events, leases).</summary>
    public const string WitnessDatabase = "pgha";

    private async Task EnsureWitnessAsync(CancellationToken cancellationToken)
    {
        var created = !Witness.DataDirectoryExists;
        await EnsureRunningAsync(Witness, initialize: true, cancellationToken).ConfigureAwait(false);
        if (created) await NodeSql.ExecuteAsync(Witness.Settings, $"CREATE DATABASE {WitnessDatabase}", cancellationToken).ConfigureAwait(false);
    }

    private async Task EnsurePrimaryAsync(PostgresInstance primary, CancellationToken cancellationToken)
    {
        var created = !primary.DataDirectoryExists;
        await EnsureRunningAsync(primary, initialize: true, cancellationToken).ConfigureAwait(false);
        if (created)
        {
            await NodeSql.ExecuteAsync(primary.Settings,
                $"CREATE ROLE {primary.Settings.ReplicationUser} WITH REPLICATION LOGIN PASSWORD '{Credentials.ReplicationPassword.Replace("'", "''", StringComparison.Ordinal)}'",
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task EnsureRunningAsync(PostgresInstance instance, bool initialize, CancellationToken cancellationToken)
    {
        if (!instance.DataDirectoryExists && initialize)
        {
            await instance.InitializeAsync(Credentials, cancellationToken).ConfigureAwait(false);
            Progress?.Invoke($"{instance.Settings.Name}: initdb done");
        }
        if (instance.ServerProcessId() is null)
        {
            await instance.StartAsync(cancellationToken).ConfigureAwait(false);
            Progress?.Invoke($"{instance.Settings.Name}: started on port {instance.Settings.Port}");
        }
    }

    /// <summary>The node that is not a standby (no standby.signal), or the topology's first node for a new cluster.</summary>
    public PostgresInstance CurrentPrimary() =>
        Nodes.FirstOrDefault(n => n.DataDirectoryExists && !File.Exists(Path.Combine(n.Settings.DataDirectory, "standby.signal")))
        ?? Nodes[0];

    /// <summary>Waits until the primary reports every other node streaming from it.</summary>
    public async Task WaitForStreamingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var primary = CurrentPrimary();
        var expected = Nodes.Where(n => n != primary).Select(n => n.Settings.Name).ToHashSet();
        var deadline = Stopwatch.StartNew();
        var lastSeen = "nothing yet";
        while (true)
        {
            try
            {
                var state = await NodeProbe.ReadAsync(primary.Settings, cancellationToken).ConfigureAwait(false);
                var streaming = state.Replication.Where(r => r.IsStreaming).Select(r => r.ApplicationName).ToHashSet();
                if (expected.IsSubsetOf(streaming)) return;
                lastSeen = streaming.Count == 0 ? "no replica streaming" : "streaming: " + string.Join(", ", streaming.Order());
            }
            catch (NpgsqlException e)
            {
                lastSeen = $"primary {primary.Settings.Name} not answering: {e.Message}";
            }
            if (deadline.Elapsed > timeout)
                throw new TimeoutException($"replicas {string.Join(", ", expected.Order())} were not all streaming from {primary.Settings.Name} after {timeout.TotalSeconds:0} s (last seen: {lastSeen})");
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads each running node's state; a stopped or unreachable node maps to null.</summary>
    public async Task<IReadOnlyDictionary<string, NodeState?>> ProbeAllAsync(CancellationToken cancellationToken)
    {
        var states = await Task.WhenAll(Instances.Select(async instance =>
        {
            if (instance.ServerProcessId() is null) return (instance.Settings.Name, (NodeState?)null);
            try
            {
                return (instance.Settings.Name, await NodeProbe.ReadAsync(instance.Settings, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
            {
                return (instance.Settings.Name, (NodeState?)null);
            }
        })).ConfigureAwait(false);
        return states.ToDictionary(s => s.Item1, s => s.Item2);
    }

    public async Task StopAsync(StopMode mode, CancellationToken cancellationToken)
    {
        // Replicas first, so the primary's shutdown checkpoint is not waiting on walsenders.
        foreach (var node in Nodes.Reverse()) await node.StopAsync(mode, cancellationToken).ConfigureAwait(false);
        await Witness.StopAsync(mode, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops every instance at once and removes the cluster's directory.</summary>
    public async Task DestroyAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(Instances.Select(async i =>
        {
            try { await i.StopAsync(StopMode.Immediate, cancellationToken).ConfigureAwait(false); }
            catch (OperatorError) { KillServer(i); }
        })).ConfigureAwait(false);
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static void KillServer(PostgresInstance instance)
    {
        if (instance.ServerProcessId() is { } pid)
        {
            try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        }
    }

    /// <summary>
    /// bash commands that stop every instance of this cluster (and optionally remove its directory):
    /// what an <see cref="OrphanGuard"/> runs when the process that owns the cluster dies.
    /// </summary>
    public string CleanupScript(StopMode mode, bool removeDirectory)
    {
        var script = new StringBuilder();
        var runAs = OsUser.RunAs is null ? "" : $"runuser -u {OsUser.RunAs} -- ";
        foreach (var instance in Instances.Reverse())
        {
            var data = Quote(instance.Settings.DataDirectory);
            script.Append($"if [ -f {data}/postmaster.pid ]; then {runAs}{Quote(Binaries.Path("pg_ctl"))} stop -D {data} -m {mode.ToString().ToLowerInvariant()} -w -t 30 -s ")
                .Append($"|| kill -9 \"$(head -1 {data}/postmaster.pid)\"; fi\n");
        }
        if (removeDirectory) script.Append($"rm -rf {Quote(Directory)}\n");
        return script.ToString();
    }

    /// <summary>An Npgsql connection string to pgha's database on the witness, as its superuser (through <paramref name="port"/> when not the witness's own).</summary>
    public string WitnessConnectionString(int? port = null) =>
        $"Host={Topology.ListenAddress};Port={port ?? Witness.Settings.Port};Username={Witness.Settings.Superuser};Password={Credentials.SuperuserPassword};Database={WitnessDatabase}";

    /// <summary>A libpq URI a client on this machine can use to reach a node with the superuser's password.</summary>
    public string ClientUri(PostgresInstance instance, string database = "postgres") =>
        $"postgresql://{instance.Settings.Superuser}:{Credentials.SuperuserPassword}@{Topology.ListenAddress}:{instance.Settings.Port}/{database}";

    /// <summary>
    /// The witness serves every agent (its Marten and Wolverine connections, directive queue listeners,
    /// the proxy's and the API's change listeners): it gets at least this many connections whatever the
    /// nodes are given (tests give nodes 40; under load a witness with 40 refused agents with 53300).
    /// </summary>
    public const int WitnessMinimumConnections = 300;

    private NodeSettings SettingsFor(string name, int port, LocalClusterOptions options) => new()
    {
        Name = name,
        NodeDirectory = Path.Combine(Directory, name),
        Port = port,
        ListenAddress = Topology.ListenAddress,
        Parameters = name == LocalTopology.WitnessName ? WitnessParameters(options.Parameters) : options.Parameters,
    };

    private static Dictionary<string, string> WitnessParameters(IReadOnlyDictionary<string, string> given)
    {
        var parameters = new Dictionary<string, string>(given, StringComparer.Ordinal);
        if (!parameters.TryGetValue("max_connections", out var value) || !int.TryParse(value, out var n) || n < WitnessMinimumConnections)
            parameters["max_connections"] = WitnessMinimumConnections.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return parameters;
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
