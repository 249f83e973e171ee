using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>REINITIALIZE: throw the data directory away and take a new base backup from the upstream.</summary>
public static class ReinitializeHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(Reinitialize directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        await node.Instance.ReinitializeAsync(node.Upstream(directive.Upstream), node.Credentials, cancellationToken).ConfigureAwait(false);
        return new(new Rejoined(RejoinMethod.Reinitialize, directive.Upstream), $"reinitialized from {directive.Upstream}");
    }
}
