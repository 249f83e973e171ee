using System.Globalization;
using System.Text;

namespace HA.Agent.Local;

/// <summary>The settings of the agents of a local cluster that are not in its topology.</summary>
public sealed record LocalAgentSettings
{
    /// <summary>The cluster secret the agents authenticate their heartbeats with.</summary>
    public required string GossipSecret { get; init; }

    /// <summary>api.token of every node: the bearer token the API's changes need; null leaves it out (changes refused).</summary>
    public string? ApiToken { get; init; }

    /// <summary>Gossip ports, one per node, in the topology's order.</summary>
    public required IReadOnlyList<int> GossipPorts { get; init; }

    /// <summary>10 s / 3 s: short enough for a quick failover, long enough for a loaded machine to renew in time.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan FenceMargin { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan PrimaryRestartTimeout { get; init; } = TimeSpan.Zero;
    public TimeSpan FailureTimeout { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan DirectiveTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    public bool Failsafe { get; init; }

    /// <summary>replication.synchronous_mode (off, on, quorum); null leaves the section out (off).</summary>
    public string? SynchronousMode { get; init; }
    public int SynchronousNodeCount { get; init; } = 1;

    /// <summary>Members never promoted automatically (node.nofailover / members[].nofailover).</summary>
    public IReadOnlySet<string> NoFailover { get; init; } = new HashSet<string>();

    /// <summary>failover.maximum_lag_on_failover in bytes; null leaves pgha's default (1 MiB).</summary>
    public long? MaximumLagOnFailover { get; init; }
    public bool SynchronousStrict { get; init; }

    /// <summary>lease.etcd.endpoints; null uses the witness database for leases.</summary>
    public string? EtcdEndpoints { get; init; }

    /// <summary>
    /// The proxy's primary and replica ports, one pair per node in the topology's order (each agent runs a
    /// proxy on the cluster's listen address); null leaves the proxy section out, and pgha run starts no proxy.
    /// </summary>
    public IReadOnlyList<(int Primary, int Replica)>? ProxyPorts { get; init; }

    /// <summary>proxy.max_replica_lag in bytes (with <see cref="ProxyPorts"/>); null keeps the default.</summary>
    public long? ProxyMaxReplicaLag { get; init; }

    /// <summary>Extra top-level YAML appended as is (tests use it to add a bad key).</summary>
    public string? Extra { get; init; }

    /// <summary>
    /// The ports through which one node's agent (the viewer) reaches a member's PostgreSQL and gossip, when
    /// not directly (tests put fault relays in between); null or a null answer: the member's own ports.
    /// </summary>
    public Func<string, string, (int PostgresPort, int GossipPort)?>? Route { get; init; }

    /// <summary>The port through which one node's agent reaches the witness, when not directly (a fault relay).</summary>
    public Func<string, int?>? WitnessRoute { get; init; }
}

/// <summary>
/// Writes the pgha.yaml of every node of a <see cref="LocalCluster"/> (<c>&lt;node dir&gt;.yaml</c> next to
/// the node directories), for <c>pgha run</c>: what the demo and the end-to-end tests start agents with.
/// </summary>
public static class LocalAgentConfig
{
    public static string PathFor(LocalCluster cluster, string node) => Path.Combine(cluster.Directory, node + ".yaml");

    public static IReadOnlyDictionary<string, string> Write(LocalCluster cluster, LocalAgentSettings settings)
    {
        if (settings.GossipPorts.Count != cluster.Nodes.Count)
            throw new ArgumentException($"{settings.GossipPorts.Count} gossip ports for {cluster.Nodes.Count} nodes", nameof(settings));
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in cluster.Nodes)
        {
            var path = PathFor(cluster, node.Settings.Name);
            File.WriteAllText(path, Render(cluster, settings, node.Settings.Name));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            files[node.Settings.Name] = path;
        }
        return files;
    }

    public static string Render(LocalCluster cluster, LocalAgentSettings settings, string nodeName)
    {
        static string D(TimeSpan span) => ((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        string NoFailover(string name) => settings.NoFailover.Contains(name) ? ", nofailover: true" : "";
        var host = cluster.Topology.ListenAddress;
        var index = cluster.Nodes.Select((n, i) => (n, i)).First(p => p.n.Settings.Name == nodeName).i;
        var node = cluster.Nodes[index].Settings;
        var witness = cluster.WitnessConnectionString(settings.WitnessRoute?.Invoke(nodeName));
        var yaml = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# pgha run --config {PathFor(cluster, nodeName)}   (written by pgha for a local cluster)")
            .AppendLine(CultureInfo.InvariantCulture, $"cluster: {cluster.Topology.ClusterName}")
            .AppendLine(CultureInfo.InvariantCulture, $"node: {{ name: {node.Name}, host: {host}, port: {node.Port}, gossip_port: {settings.GossipPorts[index]}, data_dir: {Q(node.NodeDirectory)}{NoFailover(node.Name)} }}")
            .AppendLine(CultureInfo.InvariantCulture, $"postgresql: {{ bin_dir: {Q(cluster.Binaries.BinDirectory)}, superuser_password: {Q(cluster.Credentials.SuperuserPassword)}, replication_password: {Q(cluster.Credentials.ReplicationPassword)} }}")
            .AppendLine(CultureInfo.InvariantCulture, $"witness: {{ connection_string: {Q(witness)} }}")
            .AppendLine(CultureInfo.InvariantCulture, $"gossip: {{ secret: {Q(settings.GossipSecret)} }}")
            // The HTTP endpoints listen on the TCP port with the number of the node's (UDP) gossip port.
            .AppendLine(CultureInfo.InvariantCulture, $"api: {{ listen: {Q(host + ":" + settings.GossipPorts[index])}{(settings.ApiToken is { } token ? $", token: {Q(token)}" : "")} }}")
            .AppendLine("lease:")
            .AppendLine(CultureInfo.InvariantCulture, $"  backend: {(settings.EtcdEndpoints is null ? "postgres" : "etcd")}")
            .AppendLine(CultureInfo.InvariantCulture, $"  ttl: {D(settings.LeaseTtl)}")
            .AppendLine(CultureInfo.InvariantCulture, $"  fence_margin: {D(settings.FenceMargin)}")
            .AppendLine(CultureInfo.InvariantCulture, $"  failsafe: {(settings.Failsafe ? "true" : "false")}");
        if (settings.EtcdEndpoints is not null) yaml.AppendLine(CultureInfo.InvariantCulture, $"  etcd: {{ endpoints: {Q(settings.EtcdEndpoints)} }}");
        if (settings.SynchronousMode is { } mode)
            yaml.AppendLine(CultureInfo.InvariantCulture, $"replication: {{ synchronous_mode: {mode}, synchronous_node_count: {settings.SynchronousNodeCount}, synchronous_mode_strict: {(settings.SynchronousStrict ? "true" : "false")} }}");
        if (settings.ProxyPorts is { } proxyPorts)
        {
            if (proxyPorts.Count <= index) throw new ArgumentException($"{proxyPorts.Count} proxy port pairs for node {nodeName} (number {index + 1})", nameof(settings));
            yaml.AppendLine(CultureInfo.InvariantCulture, $"proxy: {{ listen: {host}, primary_port: {proxyPorts[index].Primary}, replica_port: {proxyPorts[index].Replica}{(settings.ProxyMaxReplicaLag is { } most ? $", max_replica_lag: {most}" : "")} }}");
        }
        yaml.AppendLine(CultureInfo.InvariantCulture, $"failover: {{ primary_restart_timeout: {D(settings.PrimaryRestartTimeout)}, failure_timeout: {D(settings.FailureTimeout)}, directive_timeout: {D(settings.DirectiveTimeout)}{(settings.MaximumLagOnFailover is { } lag ? $", maximum_lag_on_failover: {lag}" : "")} }}")
            .AppendLine(CultureInfo.InvariantCulture, $"health: {{ interval: {D(settings.HealthInterval)} }}")
            .AppendLine("members:");
        for (var i = 0; i < cluster.Nodes.Count; i++)
        {
            var member = cluster.Nodes[i].Settings;
            var (port, gossip) = (member.Name == nodeName ? null : settings.Route?.Invoke(nodeName, member.Name)) ?? (member.Port, settings.GossipPorts[i]);
            yaml.AppendLine(CultureInfo.InvariantCulture, $"  - {{ name: {member.Name}, host: {host}, port: {port}, gossip_port: {gossip}{NoFailover(member.Name)} }}");
        }
        if (settings.Extra is not null) yaml.AppendLine(settings.Extra);
        return yaml.ToString();
    }
}
