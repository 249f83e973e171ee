using HA.Agent.Postgres;
using HA.Core.Replication;

namespace HA.Agent.Directives;

/// <summary>What a directive handler works with: this node's PostgreSQL, the cluster's credentials, and where the other nodes are.</summary>
public sealed record NodeAgentContext(PostgresInstance Instance, ClusterCredentials Credentials, IReadOnlyDictionary<string, ReplicationSource> Peers)
{
    /// <summary>Where the member a directive names as its upstream is.</summary>
    public ReplicationSource Upstream(string name) =>
        Peers.TryGetValue(name, out var source)
            ? source
            : throw new InvalidOperationException($"the upstream '{name}' is not a known member (members: {string.Join(", ", Peers.Keys)})");

    /// <summary>The member a standby streams from, by name when its address is a member's (as this node's configuration knows them), else host:port; null when it streams from nobody.</summary>
    public string? UpstreamOf(NodeState? probe)
    {
        if (probe?.UpstreamHost is not { } host) return null;
        return Peers.FirstOrDefault(p => p.Value.Host == host && p.Value.Port == probe.UpstreamPort).Key ?? $"{host}:{probe.UpstreamPort}";
    }
}
