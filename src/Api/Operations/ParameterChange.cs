using HA.Agent.Postgres;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.Parameters;
using HA.Core.State;
using HA.Projections;
using Npgsql;

namespace HA.Api.Operations;

/// <summary>
/// A change of the cluster-wide PostgreSQL parameters (PATCH and DELETE /api/v1/cluster/postgresql,
/// <c>pgha config set|reset</c>): checked against <c>pg_settings</c> of a reachable member (the primary
/// first) — unknown parameter, invalid value, one pgha manages itself — and recorded as one
/// PostgresParametersChanged, all or nothing; every node's agent then applies it (ALTER SYSTEM, reload).
/// A value of null resets the parameter.
/// </summary>
public static class ParameterChange
{
    /// <summary>What was recorded (null when nothing changed), against whose pg_settings, and the line that says so.</summary>
    public sealed record Result(ClusterState? State, ParameterPlan Plan, string Member, string Message);

    public static async Task<Result> RecordAsync(WitnessStore witness, PghaConfig config, IReadOnlyList<KeyValuePair<string, string?>> requested, string? reason, Initiator by, CancellationToken cancellationToken)
    {
        if (requested.Count == 0) throw new InvalidRequestError($"cluster {config.Cluster}: no parameter given; nothing recorded");
        var before = await witness.StateAsync(config.Cluster, cancellationToken).ConfigureAwait(false);
        var (member, catalog) = await CatalogAsync(before, config, cancellationToken).ConfigureAwait(false);
        var plan = ParameterValidation.Plan(requested, catalog, before.Parameters);
        if (!plan.IsValid)
            throw new InvalidRequestError($"cluster {config.Cluster}: parameters refused, nothing recorded: {string.Join("; ", plan.Problems)}");
        if (plan.Changes.Count == 0)
            return new Result(null, plan, member, $"cluster {config.Cluster}: nothing to change ({string.Join(", ", plan.Unchanged.Select(n => $"{n} is already '{before.Parameters[n]}'"))}); nothing recorded");
        var verb = plan.Changes.Values.All(v => v is null) ? "reset" : "set";
        var change = new PostgresParametersChanged(plan.Changes, plan.PendingRestart, reason)
        {
            By = by,
            CorrelationId = $"config-{verb}-{Guid.NewGuid():n}"[..(12 + verb.Length)],
        };
        var state = await witness.AppendCheckedAsync(config.Cluster, change, cancellationToken).ConfigureAwait(false);
        var described = string.Join(", ", plan.Changes.Select(c => c.Value is null ? $"{c.Key} reset" : $"{c.Key} = '{c.Value}'"));
        var message = $"cluster {config.Cluster}: parameters version {state.ParametersVersion} recorded (checked against {member}'s pg_settings): {described}; every node's agent applies it now (see pgha config show)";
        if (plan.PendingRestart.Count > 0)
            message += $"\nneeds a restart: {string.Join(", ", plan.PendingRestart)}: each node reports it pending until restarted; restart them without downtime with pgha restart --rolling";
        return new Result(state, plan, member, message);
    }

    /// <summary>The parameters and, per node, whether it applied them and what waits for a restart (GET /api/v1/cluster/postgresql).</summary>
    public static object View(ClusterState state) => new
    {
        cluster = state.Cluster,
        parameters_version = state.ParametersVersion,
        changed_at = state.ParametersChangedAt,
        parameters = state.Parameters,
        pending_restart = state.PendingRestart,
        nodes = state.Nodes.Values.Select(n => new
        {
            name = n.Name,
            role = n.Role.ToString().ToLowerInvariant(),
            detached = n.Detached,
            applied = state.ParametersVersion == 0 || n.ParametersVersion == state.ParametersVersion,
            parameters_version = n.ParametersVersion,
            pending_restart = n.PendingRestart,
            last_error = n.ParametersError,
        }),
        rolling_restart = state.RollingRestart is { } r ? new { id = r.Id, started_at = r.StartedAt, restarted = r.Restarted } : null,
    };

    /// <summary>pg_settings of the primary, else of the first member that answers; refused when none does.</summary>
    private static async Task<(string Member, IReadOnlyDictionary<string, ParameterDefinition> Catalog)> CatalogAsync(ClusterState state, PghaConfig config, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(config.SuperuserPassword))
            throw new OperatorError($"cluster {config.Cluster}: postgresql.superuser_password is needed in the configuration file to read pg_settings from a member; nothing recorded");
        var order = state.Nodes.Values.OrderBy(n => n.Name == state.Primary ? 0 : 1).ThenBy(n => n.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var node in order.Where(n => !n.Detached))
        {
            try
            {
                await using var connection = new NpgsqlConnection(MemberConnection.ConnectionString(node, config, "pgha config"));
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return (node.Name, await PostgresParameters.ReadCatalogAsync(connection, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                problems.Add($"{node.Name}: {e.GetBaseException().Message}");
            }
        }
        throw new OperatorError($"cluster {config.Cluster}: no member answered to check the parameters against its pg_settings ({string.Join("; ", problems)}); nothing recorded");
    }
}
