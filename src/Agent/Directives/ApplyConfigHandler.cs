using HA.Agent.Postgres;
using HA.Core.Directives;
using HA.Core.Replication;

namespace HA.Agent.Directives;

/// <summary>APPLY_CONFIG of synchronous_standby_names on the primary: answered with the LSN from which the new value is in effect.</summary>
public static class ApplyConfigHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(DirectiveEnvelope envelope, ApplySynchronousStandbys directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var left = envelope.Directive.ExpiresAt - DateTimeOffset.UtcNow;
        var lsn = await SynchronousStandbyNames.ApplyOnPrimaryAsync(node.Instance.Settings, directive.Value, left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        return new(new SynchronousStandbysSet(directive.Value, lsn.ToString()), SyncApplyDetail.Format(directive.Value, lsn));
    }
}
