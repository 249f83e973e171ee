using HA.Agent.Directives;
using HA.Core.Events;

namespace HA.Agent.Runtime;

/// <summary>
/// What a directive means for the primary lease and the agent's memory: the primary is always the lease's
/// holder, so a PROMOTE takes the lease before the server accepts writes; a FENCE or DEMOTE gives it up
/// once the server no longer does, and both are remembered for the agent's next decisions.
/// </summary>
public sealed class DirectiveLeaseHooks(PrimaryLeaseHolder lease, AgentExecutor executor) : IDirectiveHooks
{
    public async Task BeforeAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.Directive.Kind == DirectiveKind.Promote) await lease.HoldBeforePromotingAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> AfterAsync(DirectiveEnvelope envelope, string detail, CancellationToken cancellationToken)
    {
        var d = envelope.Directive;
        switch (d.Kind)
        {
            case DirectiveKind.Promote:
                executor.Promoted(d.Term);
                break;
            case DirectiveKind.Fence or DirectiveKind.Demote:
                executor.Fenced(d.Term);
                if (await lease.ReleaseAsync().ConfigureAwait(false)) detail += "; primary lease released";
                break;
        }
        return detail;
    }
}
