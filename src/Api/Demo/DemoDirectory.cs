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
    string? GossipSecret = null)
{
    public LocalTopology Topology => new(Cluster, WitnessPort, Nodes.Select(n => new LocalNodeSpec(n.Name, n.Port)).ToList(), ListenAddress);

    public ClusterCredentials Credentials => new(SuperuserPassword, ReplicationPassword);

    public static DemoState From(LocalTopology topology, ClusterCredentials credentials, string? pgBin, DateTimeOffset now) =>
        new(topology.ClusterName, topology.ListenAddress, topology.WitnessPort,
            topology.Nodes.Select(n => new DemoStateNode(n.Name, n.Port)).ToList(),
            credentials.SuperuserPassword, credentials.ReplicationPassword, pgBin, now);
}

public sealed record DemoStateNode(string Name, int Port);

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

    public void Save(DemoState state)
    {
        Directory.CreateDirectory(Path);
        File.WriteAllText(StateFile, JsonSerializer.Serialize(state, Json));
        File.SetUnixFileMode(StateFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
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
