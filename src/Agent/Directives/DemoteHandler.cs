namespace HA.Agent.Directives;

/// <summary>DEMOTE: a clean stop, then start as a standby of the upstream (planned switchover; no rewind needed).</summary>
public static class DemoteHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var upstream = node.Upstream(envelope.Directive);
        await node.Instance.DemoteAsync(upstream, cancellationToken).ConfigureAwait(false);
        return $"demoted; following {envelope.Directive.Arguments["upstream"]}";
    }
}
