using HA.Agent.Postgres;
using HA.Core.Failover;
using HA.Core.Replication;

namespace HA.Agent.Directives;

/// <summary>APPLY_CONFIG: change this node's PostgreSQL settings; what is changed is named by the directive's arguments.</summary>
public static class ApplyConfigHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var arguments = envelope.Directive.Arguments;
        if (arguments.TryGetValue(SynchronousSteps.SynchronousArgument, out var value))
        {
            var left = envelope.Directive.ExpiresAt - DateTimeOffset.UtcNow;
            var lsn = await SynchronousStandbyNames.ApplyOnPrimaryAsync(node.Instance.Settings, value, left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            return SyncApplyDetail.Format(value, lsn);
        }
        throw new NotSupportedException($"APPLY_CONFIG with arguments {string.Join(", ", arguments.Keys)}: nothing this agent knows how to apply");
    }
}
