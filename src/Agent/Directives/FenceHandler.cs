using HA.Agent.Postgres;
using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>FENCE: this node must stop accepting writes now. Idempotent: a stopped node is already fenced.</summary>
public static class FenceHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(Fence directive, NodeAgentContext node, CancellationToken cancellationToken) =>
        new(new Fenced(), await PostgresFence.FenceAsync(node.Instance, cancellationToken).ConfigureAwait(false));
}
