using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>DEMOTE: a clean stop, then start as a standby of the upstream (planned switchover; no rewind needed).</summary>
public static class DemoteHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(Demote directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var upstream = node.Upstream(directive.Upstream);
        if (node.Instance.ServerProcessId() is not null && await Postgres.NodeProbe.ReadAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false) is { InRecovery: true })
            return new(new Demoted(null, directive.Upstream), $"already a standby; following {directive.Upstream}");
        var final = await node.Instance.DemoteAsync(upstream, cancellationToken).ConfigureAwait(false);
        return new(new Demoted(final, directive.Upstream), $"demoted at final LSN {final}; following {directive.Upstream}");
    }
}
