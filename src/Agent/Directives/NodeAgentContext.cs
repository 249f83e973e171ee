using HA.Agent.Postgres;

namespace HA.Agent.Directives;

/// <summary>What a directive handler works with: this node's PostgreSQL, the cluster's credentials, and where the other nodes are.</summary>
public sealed record NodeAgentContext(PostgresInstance Instance, ClusterCredentials Credentials, IReadOnlyDictionary<string, ReplicationSource> Peers)
{
    /// <summary>Where the member a directive names as its upstream is.</summary>
    public ReplicationSource Upstream(string name) =>
        Peers.TryGetValue(name, out var source)
            ? source
            : throw new InvalidOperationException($"the upstream '{name}' is not a known member (members: {string.Join(", ", Peers.Keys)})");
}
