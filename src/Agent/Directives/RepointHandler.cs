using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>REPOINT: stream from another upstream (new primary_conninfo, reload). Idempotent.</summary>
public static class RepointHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(Repoint directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        await node.Instance.RepointAsync(node.Upstream(directive.Upstream), cancellationToken).ConfigureAwait(false);
        return new(new Following(directive.Upstream), $"following {directive.Upstream}");
    }
}
