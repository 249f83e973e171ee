using System.Globalization;
using System.Text.Json;
using HA.Agent.Postgres;
using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.Parameters;
using HA.Core.State;
using HA.Projections;
using Npgsql;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha config set|reset|show</c>: the cluster-wide PostgreSQL parameters, kept in the event log
/// (DESIGN §10), not in any file. A change is checked against <c>pg_settings</c> of a reachable member
/// (the primary first) — unknown parameter, invalid value, one pgha manages itself — and recorded as
/// one PostgresParametersChanged, all or nothing; the coordinator then has every node's agent apply it
/// (ALTER SYSTEM, reload) and each node reports what waits for a restart. Until the REST API lands
/// (issue 9) the command reaches the witness store named by a node's pgha.yaml.
/// </summary>
public static class ParametersCommand
{
    public const string Help = """
        pgha config set — set cluster-wide PostgreSQL parameters on every node
        pgha config reset — stop setting them (each node returns to its configuration file's value or the default)
        pgha config show — the cluster's parameters and, per node, whether it applied them and what waits for a restart

        usage: pgha config set NAME=VALUE [NAME=VALUE ...] --config FILE [--reason TEXT]
               pgha config reset NAME [NAME ...] --config FILE [--reason TEXT]
               pgha config show --config FILE [--json]

        FILE is any member's pgha.yaml (its witness, cluster and superuser password are used). Values are
        checked against pg_settings of a reachable member (the primary first) before anything is recorded:
        an unknown parameter, a value PostgreSQL would refuse (a boolean, a number within its bounds with
        a unit it accepts, one of an enum's values) or a parameter pgha manages itself (port,
        listen_addresses, wal_level, hot_standby, primary_conninfo, synchronous_standby_names, ...) is
        refused with the reason, and then nothing is recorded. The change is one event; every node's agent
        applies it with ALTER SYSTEM and a reload. Parameters that need a restart (max_connections,
        shared_buffers, ...) are reported pending on each node until `pgha restart --rolling` restarts them.
        Exit 0 when recorded (or nothing to change), 1 with one line when refused, 2 on a usage error.

        examples:
          pgha config set work_mem=64MB log_min_duration_statement=250ms --config /etc/pgha/pgha.yaml
          pgha config set max_connections=300 --config /etc/pgha/pgha.yaml --reason "more app servers"
          pgha restart --rolling --config /etc/pgha/pgha.yaml
          pgha config reset work_mem --config /etc/pgha/pgha.yaml
          pgha config show --config /etc/pgha/pgha.yaml --json
        """;

    public static async Task<int> RunAsync(string verb, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var show = verb == "show";
        var cli = CommandLine.Parse($"pgha config {verb}", arguments, show ? ["--config"] : ["--config", "--reason"], show ? ["--json"] : []);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        var path = cli.Value("--config") ?? throw new UsageError($"pgha config {verb} needs --config FILE (a member's pgha.yaml)");
        if (show)
        {
            cli.NoPositionals();
            var shown = PghaConfig.Load(path);
            await using var reader = await WitnessStore.OpenAsync(shown.Witness, cancellationToken);
            var current = await reader.StateAsync(shown.Cluster, cancellationToken);
            output.Write(cli.Has("--json") ? Json(current) + "\n" : Text(current));
            return 0;
        }

        var requested = Requested(verb, cli.Positionals);
        var config = PghaConfig.Load(path);
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var before = await witness.StateAsync(config.Cluster, cancellationToken);
        var (member, catalog) = await CatalogAsync(before, config, cancellationToken);
        var plan = ParameterValidation.Plan(requested, catalog, before.Parameters);
        if (!plan.IsValid)
            throw new OperatorError($"cluster {config.Cluster}: parameters refused, nothing recorded: {string.Join("; ", plan.Problems)}");
        if (plan.Changes.Count == 0)
        {
            output.WriteLine($"cluster {config.Cluster}: nothing to change ({string.Join(", ", plan.Unchanged.Select(n => $"{n} is already '{before.Parameters[n]}'"))}); nothing recorded");
            return 0;
        }
        var change = new PostgresParametersChanged(plan.Changes, plan.PendingRestart, cli.Value("--reason"))
        {
            By = Initiator.User(Environment.UserName),
            CorrelationId = $"config-{verb}-{Guid.NewGuid():n}"[..(12 + verb.Length)],
        };
        var state = await witness.AppendCheckedAsync(config.Cluster, change, cancellationToken);
        var described = string.Join(", ", plan.Changes.Select(c => c.Value is null ? $"{c.Key} reset" : $"{c.Key} = '{c.Value}'"));
        output.WriteLine($"cluster {config.Cluster}: parameters version {state.ParametersVersion} recorded (checked against {member}'s pg_settings): {described}; every node's agent applies it now (see pgha config show)");
        if (plan.PendingRestart.Count > 0)
            output.WriteLine($"needs a restart: {string.Join(", ", plan.PendingRestart)}: each node reports it pending until restarted; restart them without downtime with pgha restart --rolling --config {path}");
        return 0;
    }

    /// <summary>NAME=VALUE words for set, NAME words for reset; anything else is a usage error.</summary>
    private static List<KeyValuePair<string, string?>> Requested(string verb, IReadOnlyList<string> words)
    {
        if (words.Count == 0) throw new UsageError(verb == "set" ? "pgha config set needs at least one NAME=VALUE (pgha config set work_mem=64MB --config FILE)" : "pgha config reset needs at least one parameter NAME");
        var requested = new List<KeyValuePair<string, string?>>();
        foreach (var word in words)
        {
            var equals = word.IndexOf('=', StringComparison.Ordinal);
            if (verb == "set")
            {
                if (equals <= 0) throw new UsageError($"'{word}' is not NAME=VALUE (pgha config set work_mem=64MB --config FILE)");
                requested.Add(new(word[..equals], word[(equals + 1)..]));
            }
            else
            {
                if (equals >= 0) throw new UsageError($"pgha config reset takes parameter names, not '{word}'");
                requested.Add(new(word, null));
            }
        }
        return requested;
    }

    /// <summary>pg_settings of the primary, else of the first member that answers; refused when none does.</summary>
    private static async Task<(string Member, IReadOnlyDictionary<string, ParameterDefinition> Catalog)> CatalogAsync(ClusterState state, PghaConfig config, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(config.SuperuserPassword))
            throw new OperatorError($"cluster {config.Cluster}: postgresql.superuser_password is needed in the configuration file to read pg_settings from a member; nothing recorded");
        var order = state.Nodes.Values.OrderBy(n => n.Name == state.Primary ? 0 : 1).ThenBy(n => n.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var node in order.Where(n => !n.Detached))
        {
            var connectionString = new NpgsqlConnectionStringBuilder
            {
                Host = node.Host,
                Port = node.Port,
                Username = "postgres",
                Password = config.SuperuserPassword,
                Database = "postgres",
                Pooling = false,
                Timeout = 5,
                ApplicationName = "pgha config",
            }.ConnectionString;
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                return (node.Name, await PostgresParameters.ReadCatalogAsync(connection, cancellationToken));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                problems.Add($"{node.Name}: {e.GetBaseException().Message}");
            }
        }
        throw new OperatorError($"cluster {config.Cluster}: no member answered to check the parameters against its pg_settings ({string.Join("; ", problems)}); nothing recorded");
    }

    private static string Text(ClusterState state)
    {
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"cluster {state.Cluster}: ");
        if (state.ParametersVersion == 0) text.Append("no parameters set through pgha\n");
        else text.Append(CultureInfo.InvariantCulture, $"parameters version {state.ParametersVersion} ({state.Parameters.Count} set){(state.ParametersChangedAt is { } at ? $", changed {at:yyyy-MM-dd HH:mm:ss}Z" : "")}\n");
        if (state.Parameters.Count > 0)
        {
            text.Append('\n').Append(TextTable.Render(["PARAMETER", "VALUE"], state.Parameters.Select(p => (IReadOnlyList<string>)[p.Key, p.Value])));
        }
        text.Append('\n').Append(TextTable.Render(["NODE", "ROLE", "APPLIED", "PENDING RESTART"], state.Nodes.Values.Select(n => (IReadOnlyList<string>)
        [
            n.Name,
            n.Detached ? "detached" : n.Role.ToString().ToLowerInvariant(),
            Applied(state, n),
            n.PendingRestart.Count == 0 ? "-" : string.Join(", ", n.PendingRestart),
        ])));
        if (state.RollingRestart is { } rolling)
            text.Append(CultureInfo.InvariantCulture, $"\nrolling restart {rolling.Id} in progress since {rolling.StartedAt:HH:mm:ss}Z; restarted so far: {(rolling.Restarted.Count == 0 ? "none" : string.Join(", ", rolling.Restarted))}\n");
        else if (state.Nodes.Values.Any(n => n.PendingRestart.Count > 0))
            text.Append("\nsome nodes need a restart: pgha restart --rolling restarts them without downtime\n");
        return text.ToString();
    }

    private static string Applied(ClusterState state, NodeView node)
    {
        if (state.ParametersVersion == 0) return "-";
        var applied = node.ParametersVersion == state.ParametersVersion ? "yes" : $"no (at version {node.ParametersVersion})";
        return node.ParametersError is { } error ? $"{applied}; last attempt failed: {error}" : applied;
    }

    private static string Json(ClusterState state) => JsonSerializer.Serialize(new
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
    }, new JsonSerializerOptions { WriteIndented = true });
}
