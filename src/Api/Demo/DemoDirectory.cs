using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using HA.Agent.Local;
using HA.Agent.Postgres;

namespace HA.Api.Demo;

/// <summary>What a demo directory remembers between runs: its topology and the cluster's passwords.</summary>
public sealed record DemoState(
    string Cluster,
    string ListenAddress,
    int WitnessPort,
    IReadOnlyList<DemoStateNode> Nodes,
    string SuperuserPassword,
    string ReplicationPassword,
    string? PgBinDirectory,
    DateTimeOffset CreatedAt,
    string? GossipSecret = null,
    string? SynchronousMode = null,
    string? ApiToken = null)
{
    public LocalTopology Topology => new(Cluster, WitnessPort, Nodes.Select(n => new LocalNodeSpec(n.Name, n.Port)).ToList(), ListenAddress);

    public ClusterCredentials Credentials => new(SuperuserPassword, ReplicationPassword);

    /// <summary>Gossip ports without a recorded one are the witness port + 1001, + 1002, … by position.</summary>
    public IReadOnlyList<int> GossipPorts => [.. Nodes.Select((n, i) => n.GossipPort ?? WitnessPort + 1000 + 1 + i)];

    /// <summary>Every node with its gossip port written down, so that adding or removing a node moves no other node's.</summary>
    public DemoState WithGossipPorts() => this with { Nodes = [.. Nodes.Zip(GossipPorts, (n, port) => n with { GossipPort = port })] };

    public static DemoState From(LocalTopology topology, ClusterCredentials credentials, string? pgBin, DateTimeOffset now) =>
        new(topology.ClusterName, topology.ListenAddress, topology.WitnessPort,
            topology.Nodes.Select(n => new DemoStateNode(n.Name, n.Port)).ToList(),
            credentials.SuperuserPassword, credentials.ReplicationPassword, pgBin, now);
}

/// <summary>One node of the demo; its agent's gossip port once fixed (older demos derive it from the node's position).</summary>
public sealed record DemoStateNode(string Name, int Port, int? GossipPort = null);

/// <summary>
/// The demo's directory: <c>demo.json</c> (topology and passwords, mode 0600), <c>demo.pid</c> while a
/// supervisor runs, and one subdirectory per PostgreSQL instance.
/// </summary>
public sealed class DemoDirectory(string path)
{
    public const string DefaultPath = ".pgha-demo";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public string StateFile => System.IO.Path.Combine(Path, "demo.json");

    public string PidFile => System.IO.Path.Combine(Path, "demo.pid");

    public bool Exists => Directory.Exists(Path);

    public bool HoldsDemo => File.Exists(StateFile);

    public bool IsEmptyOrMissing => !Exists || !Directory.EnumerateFileSystemEntries(Path).Any();

    public DemoState Load()
    {
        try
        {
            return JsonSerializer.Deserialize<DemoState>(File.ReadAllText(StateFile), Json)
                ?? throw new DemoError($"{StateFile} is empty; remove the directory or run 'pgha demo --reset'");
        }
        catch (JsonException e)
        {
            throw new DemoError($"{StateFile} is not a pgha demo state file ({e.Message}); remove the directory or run 'pgha demo --reset'");
        }
    }

    /// <summary>Writes demo.json whole (a new file renamed over the old), so a supervisor reading it never sees half of it.</summary>
    public void Save(DemoState state)
    {
        Directory.CreateDirectory(Path);
        var next = StateFile + ".new";
        File.WriteAllText(next, JsonSerializer.Serialize(state, Json));
        File.SetUnixFileMode(next, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(next, StateFile, overwrite: true);
    }

    /// <summary>
    /// Holds the demo's membership lock while a node is added or removed (two at once would pick the same
    /// name or ports); waits up to <paramref name="timeout"/> for another command to finish.
    /// </summary>
    public async Task<IDisposable> LockMembershipAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var file = System.IO.Path.Combine(Path, "membership.lock");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(200, cancellationToken);
            }
            catch (IOException)
            {
                throw new DemoError($"another command is adding or removing a node in {Path} (it holds {file}); try again when it is done");
            }
        }
    }

    /// <summary>The pid of a live supervisor (<c>pgha demo</c>) for this directory, if one runs.</summary>
    public int? SupervisorPid()
    {
        try
        {
            if (!int.TryParse(File.ReadAllText(PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
            if (pid == Environment.ProcessId) return pid;
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return commandLine.Contains("demo", StringComparison.Ordinal) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void WritePid() => File.WriteAllText(PidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

    public void RemovePid()
    {
        if (SupervisorPid() == Environment.ProcessId) File.Delete(PidFile);
    }
}

/// <summary>A demo command that cannot go on (a demo already runs there, the directory is not a demo's).</summary>
public sealed class DemoError(string message) : HA.Core.Errors.OperatorError(message);
