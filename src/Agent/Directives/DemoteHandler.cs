namespace HA.Agent.Directives;

/// <summary>DEMOTE: a clean stop, then start as a standby of the upstream (planned switchover; no rewind needed).</summary>
public static class DemoteHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var upstream = node.Upstream(envelope.Directive);
        if (node.Instance.ServerProcessId() is not null && await Postgres.NodeProbe.ReadAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false) is { InRecovery: true })
            return $"already a standby; following {envelope.Directive.Arguments["upstream"]}";
        var final = await node.Instance.DemoteAsync(upstream, cancellationToken).ConfigureAwait(false);
        return $"demoted at final LSN {final}; following {envelope.Directive.Arguments["upstream"]}";
    }
}
