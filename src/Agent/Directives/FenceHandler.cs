using HA.Agent.Postgres;

namespace HA.Agent.Directives;

/// <summary>FENCE: this node must stop accepting writes now. Idempotent: a stopped node is already fenced.</summary>
public static class FenceHandler
{
    public static Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken) =>
        PostgresFence.FenceAsync(node.Instance, cancellationToken);
}
