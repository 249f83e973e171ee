using System.Text.RegularExpressions;

namespace HA.Agent.Postgres;

/// <summary>How one managed PostgreSQL node is laid out and reached. Immutable; the node directory holds everything.</summary>
public sealed partial record NodeSettings
{
    public required string Name { get; init; }

    /// <summary>The node's own directory: data/, run/ (the Unix socket), postgresql.log, pgpass.</summary>
    public required string NodeDirectory { get; init; }

    public required int Port { get; init; }

    public string ListenAddress { get; init; } = "127.0.0.1";

    public string Superuser { get; init; } = "postgres";

    public string ReplicationUser { get; init; } = "replicator";

    /// <summary>Networks (CIDR) allowed to connect over TCP with a password, for clients and replication.</summary>
    public IReadOnlyList<string> HbaNetworks { get; init; } = ["127.0.0.1/32", "::1/128"];

    /// <summary>Extra postgresql.conf settings written with the managed ones (they win over defaults).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    public string DataDirectory => Path.Combine(NodeDirectory, "data");
    public string SocketDirectory => Path.Combine(NodeDirectory, "run");
    public string LogFile => Path.Combine(NodeDirectory, "postgresql.log");
    public string PassFile => Path.Combine(NodeDirectory, "pgpass");

    /// <summary>The physical replication slot this node streams through on its upstream.</summary>
    public string SlotName => SlotNameFor(Name);

    public static string SlotNameFor(string nodeName) => "pgha_" + NonSlotCharacters().Replace(nodeName.ToLowerInvariant(), "_");

    [GeneratedRegex("[^a-z0-9_]")]
    private static partial Regex NonSlotCharacters();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,47}$")]
    private static partial Regex ValidName();

    /// <summary>Node names appear in slot names, queues and URLs: a letter, then letters, digits, '-' or '_'.</summary>
    public static bool IsValidName(string name) => ValidName().IsMatch(name);
}

/// <summary>The passwords a cluster's nodes share: the superuser's and the replication user's.</summary>
public sealed record ClusterCredentials(string SuperuserPassword, string ReplicationPassword)
{
    public static ClusterCredentials Generate() =>
        new(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)),
            Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)));
}

/// <summary>Where a standby streams from.</summary>
public sealed record ReplicationSource(string Host, int Port);
