using HA.Agent.Postgres;
using HA.Core.Directives;
using HA.Core.Replication;

namespace HA.Agent.Directives;

/// <summary>PROMOTE: end recovery and accept writes on a new timeline. Idempotent: a node already primary answers so.</summary>
public static class PromoteHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(DirectiveEnvelope envelope, Promote directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        if (node.Instance.ServerProcessId() is null) await node.Instance.StartAsync(cancellationToken).ConfigureAwait(false);
        var before = await NodeProbe.ReadAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false);
        if (!before.InRecovery) return new(new Promoted(before.Timeline, null, AlreadyPrimary: true), $"already primary on timeline {before.Timeline}");
        if (Lsn.TryParse(directive.AfterLsn, out var needed))
        {
            // A switchover: promote only with every write of the demoted primary replayed.
            while (before.ReplayedLsn is not { } replayed || replayed < needed)
            {
                if (DateTimeOffset.UtcNow > envelope.Directive.ExpiresAt)
                    throw new InvalidOperationException($"replayed only up to {before.ReplayedLsn?.ToString() ?? "nothing"}, not {needed}, before the directive expired: not promoted");
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                before = await NodeProbe.ReadAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false);
            }
        }
        // What the new primary waits for from its first commit: nobody, or anyone in strict synchronous mode.
        if (directive.SynchronousStandbyNames is { } synchronous)
            await SynchronousStandbyNames.SetAsync(node.Instance.Settings, synchronous, cancellationToken).ConfigureAwait(false);
        await node.Instance.PromoteAsync(cancellationToken).ConfigureAwait(false);
        // A fence left on this node earlier must not make the new primary read-only.
        await PostgresFence.ClearAsync(node.Instance, cancellationToken).ConfigureAwait(false);
        await NodeSql.EnsureSlotsAsync(node.Instance.Settings, node.Peers.Keys.Where(p => p != node.Instance.Settings.Name), cancellationToken).ConfigureAwait(false);
        var after = await NodeProbe.ReadAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false);
        return new(new Promoted(after.Timeline, after.CurrentLsn?.ToString()), $"promoted on timeline {after.Timeline} at {after.CurrentLsn}");
    }
}
