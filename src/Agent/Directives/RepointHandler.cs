namespace HA.Agent.Directives;

/// <summary>REPOINT: stream from another upstream (new primary_conninfo, reload). Idempotent.</summary>
public static class RepointHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        await node.Instance.RepointAsync(node.Upstream(envelope.Directive), cancellationToken).ConfigureAwait(false);
        return $"following {envelope.Directive.Arguments["upstream"]}";
    }
}
