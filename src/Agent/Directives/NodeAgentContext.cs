using HA.Agent.Postgres;
using HA.Core.Events;

namespace HA.Agent.Directives;

/// <summary>What a directive handler works with: this node's PostgreSQL, the cluster's credentials, and where the other nodes are.</summary>
public sealed record NodeAgentContext(PostgresInstance Instance, ClusterCredentials Credentials, IReadOnlyDictionary<string, ReplicationSource> Peers)
{
    /// <summary>The upstream a directive names in its "upstream" argument.</summary>
    public ReplicationSource Upstream(DirectiveIssued directive) =>
        directive.Arguments.TryGetValue("upstream", out var name) && Peers.TryGetValue(name, out var source)
            ? source
            : throw new InvalidOperationException($"{directive.Kind} {directive.DirectiveId} names no known upstream (argument upstream='{directive.Arguments.GetValueOrDefault("upstream")}')");
}
