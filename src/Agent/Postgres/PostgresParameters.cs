using System.Text;
using HA.Core.Parameters;
using Npgsql;

namespace HA.Agent.Postgres;

/// <summary>
/// Cluster-wide parameters on one PostgreSQL: reading what it accepts (pg_settings), applying a desired
/// set with ALTER SYSTEM and a reload, and reading which parameters wait for a restart.
/// </summary>
public static class PostgresParameters
{
    /// <summary>Parameters whose list elements PostgreSQL quotes: each element is its own literal.</summary>
    private static readonly HashSet<string> QuotedLists = new(StringComparer.Ordinal)
    {
        "search_path", "temp_tablespaces", "shared_preload_libraries", "session_preload_libraries", "local_preload_libraries",
    };

    private const string CatalogQuery = """
        SELECT s.name, s.vartype, s.context, s.unit, s.min_val, s.max_val, s.enumvals, s.setting,
               coalesce((SELECT f.setting FROM pg_file_settings f
                         WHERE f.name = s.name AND f.error IS NULL AND f.sourcefile NOT LIKE '%/postgresql.auto.conf'
                         ORDER BY f.seqno DESC LIMIT 1), s.boot_val)
        FROM pg_settings s
        """;

    /// <summary>Every parameter the server knows, by name (superuser connection: pg_file_settings needs it).</summary>
    public static async Task<IReadOnlyDictionary<string, ParameterDefinition>> ReadCatalogAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var catalog = new Dictionary<string, ParameterDefinition>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(CatalogQuery, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            var name = reader.GetString(0);
            catalog[name] = new ParameterDefinition(name, reader.GetString(1), reader.GetString(2), Text(3), Text(4), Text(5),
                reader.IsDBNull(6) ? [] : reader.GetFieldValue<string[]>(6), Text(7), Text(8));
        }
        return catalog;
    }

    /// <summary>
    /// ALTER SYSTEM RESET for <paramref name="reset"/>, ALTER SYSTEM SET for <paramref name="desired"/>,
    /// a reload, and — once the server has read its files again — the parameters pending a restart.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ApplyAsync(NodeSettings node, IReadOnlyDictionary<string, string> desired, IReadOnlyCollection<string> reset, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var loadedBefore = await LoadTimeAsync(connection, cancellationToken).ConfigureAwait(false);
        foreach (var name in reset) await ExecuteAsync(connection, $"ALTER SYSTEM RESET {name}", cancellationToken).ConfigureAwait(false);
        foreach (var (name, value) in desired) await ExecuteAsync(connection, $"ALTER SYSTEM SET {name} = {Literals(name, value)}", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "SELECT pg_reload_conf()", cancellationToken).ConfigureAwait(false);

        // The postmaster reads its files again asynchronously; a session started after it did has the new values.
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            await using var fresh = new NpgsqlConnection(NodeProbe.ConnectionString(node));
            await fresh.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (await LoadTimeAsync(fresh, cancellationToken).ConfigureAwait(false) > loadedBefore || DateTimeOffset.UtcNow > deadline)
                return await PendingRestartAsync(fresh, cancellationToken).ConfigureAwait(false);
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The parameters changed in the configuration files that only a restart applies.</summary>
    public static async Task<IReadOnlyList<string>> PendingRestartAsync(NodeSettings node, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await PendingRestartAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<string>> PendingRestartAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT name FROM pg_settings WHERE pending_restart ORDER BY name", connection);
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) names.Add(reader.GetString(0));
        return names;
    }

    private static async Task<DateTime> LoadTimeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_conf_load_time()", connection);
        return (DateTime)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The value as SQL literals (ALTER SYSTEM takes no bind parameters; names are checked against
    /// <see cref="ParameterValidation.ParameterName"/> before they get here). A list PostgreSQL quotes
    /// element by element is given one literal per element.
    /// </summary>
    public static string Literals(string name, string value)
    {
        static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
        if (!QuotedLists.Contains(name) || value.Trim().Length == 0) return Literal(value);
        return string.Join(", ", SplitList(value).Select(Literal));
    }

    /// <summary>Splits a comma-separated list; an element in double quotes keeps its commas (and "" stands for ").</summary>
    public static IReadOnlyList<string> SplitList(string value)
    {
        var elements = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '"')
            {
                if (quoted && i + 1 < value.Length && value[i + 1] == '"') { current.Append('"'); i++; }
                else quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                elements.Add(current.ToString().Trim());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }
        elements.Add(current.ToString().Trim());
        return elements;
    }
}
