using HA.Agent.Postgres;

namespace HA.Agent.Directives;

/// <summary>REWIND: rejoin a diverged former primary with pg_rewind, falling back to a new base backup when the rewind fails.</summary>
public static class RewindHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var upstream = node.Upstream(envelope.Directive);
        try
        {
            await node.Instance.RewindAsync(upstream, cancellationToken).ConfigureAwait(false);
            return $"rewound; following {envelope.Directive.Arguments["upstream"]}";
        }
        catch (PostgresCommandFailed rewind)
        {
            await node.Instance.ReinitializeAsync(upstream, node.Credentials, cancellationToken).ConfigureAwait(false);
            return $"pg_rewind failed ({rewind.Message}); reinitialized from {envelope.Directive.Arguments["upstream"]} instead";
        }
    }
}
