namespace HA.Agent.Directives;

/// <summary>REINITIALIZE: throw the data directory away and take a new base backup from the upstream.</summary>
public static class ReinitializeHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        await node.Instance.ReinitializeAsync(node.Upstream(envelope.Directive), node.Credentials, cancellationToken).ConfigureAwait(false);
        return $"reinitialized from {envelope.Directive.Arguments["upstream"]}";
    }
}
