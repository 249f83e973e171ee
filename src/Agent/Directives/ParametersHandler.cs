using HA.Agent.Postgres;
using HA.Core.Directives;
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
    public static async Task<DirectiveAnswer> HandleAsync(ApplyParameters directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        if (ParameterDirective.Problem(directive) is { } problem) throw new InvalidOperationException(problem);
        if (node.Instance.ServerProcessId() is null) throw new InvalidOperationException("PostgreSQL is not running: parameters not applied");
        var pending = await PostgresParameters.ApplyAsync(node.Instance.Settings, directive.Desired, directive.Reset, cancellationToken).ConfigureAwait(false);
        var sorted = pending.Order(StringComparer.Ordinal).ToList();
        return new(new ParametersSet(directive.Version, sorted, directive.Desired.Count, directive.Reset.Count),
            ParameterDirective.Answer($"{directive.Desired.Count} parameter(s) set, {directive.Reset.Count} reset, configuration reloaded", directive.Version, sorted));
    }
}
