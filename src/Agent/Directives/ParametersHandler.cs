using HA.Agent.Postgres;
using HA.Core.Parameters;

namespace HA.Agent.Directives;

/// <summary>
/// APPLY_CONFIG carrying the cluster's parameters: ALTER SYSTEM SET each desired one, ALTER SYSTEM RESET
/// those pgha set before and no longer sets, reload, and answer with what is pending a restart.
/// Idempotent: the directive carries the whole desired set, not a difference. Works on a standby too
/// (ALTER SYSTEM writes its own postgresql.auto.conf).
/// </summary>
public static class ParametersHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var (desired, reset, version) = ParameterDirective.Read(envelope.Directive.Arguments);
        if (node.Instance.ServerProcessId() is null) throw new InvalidOperationException("PostgreSQL is not running: parameters not applied");
        var pending = await PostgresParameters.ApplyAsync(node.Instance.Settings, desired, reset, cancellationToken).ConfigureAwait(false);
        return ParameterDirective.Answer($"{desired.Count} parameter(s) set, {reset.Count} reset, configuration reloaded", version, pending);
    }
}
