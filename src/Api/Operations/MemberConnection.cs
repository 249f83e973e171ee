using HA.Api.Config;
using HA.Core.State;
using Npgsql;

namespace HA.Api.Operations;

/// <summary>How an operation reaches a member's PostgreSQL directly (as the superuser of pgha.yaml), to read what the log does not hold.</summary>
internal static class MemberConnection
{
    public static string ConnectionString(NodeView node, PghaConfig config, string application) => new NpgsqlConnectionStringBuilder
    {
        Host = node.Host,
        Port = node.Port,
        Username = "postgres",
        Password = config.SuperuserPassword,
        Database = "postgres",
        Pooling = false,
        Timeout = 5,
        ApplicationName = application,
    }.ConnectionString;

    /// <summary>One value of one query on <paramref name="node"/>, or null when it cannot be reached.</summary>
    public static async Task<T?> ScalarAsync<T>(NodeView node, PghaConfig config, string sql, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString(node, config, "pgha api"));
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(sql, connection);
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is T value ? value : default;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return default;
        }
    }
}
