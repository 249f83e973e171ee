using HA.Agent.Postgres;
using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>REWIND: rejoin a diverged former primary with pg_rewind, falling back to a new base backup when the rewind fails.</summary>
public static class RewindHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(Rewind directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var upstream = node.Upstream(directive.Upstream);
        try
        {
            await node.Instance.RewindAsync(upstream, cancellationToken).ConfigureAwait(false);
            return new(new Rejoined(RejoinMethod.Rewind, directive.Upstream), $"rewound; following {directive.Upstream}");
        }
        catch (PostgresCommandFailed rewind)
        {
            await node.Instance.ReinitializeAsync(upstream, node.Credentials, cancellationToken).ConfigureAwait(false);
            return new(new Rejoined(RejoinMethod.Reinitialize, directive.Upstream, rewind.Message),
                $"pg_rewind failed ({rewind.Message}); reinitialized from {directive.Upstream} instead");
        }
    }
}
