using HA.Core.Errors;
using Npgsql;

namespace HA.Api.Http;

/// <summary>One row of the primary's <c>pg_stat_replication</c>: a standby streaming from it (lags in bytes and seconds).</summary>
public sealed record StandbyReplication(
    string Node,
    string? ClientAddress,
    string State,
    string SyncState,
    string? SentLsn,
    string? WriteLsn,
    string? FlushLsn,
    string? ReplayLsn,
    long? LagBytes,
    double? WriteLagSeconds,
    double? FlushLagSeconds,
    double? ReplayLagSeconds);

/// <summary>
/// Reads the primary's <c>pg_stat_replication</c> over TCP as the cluster's superuser: the one place that
/// knows each standby's lag in seconds (PostgreSQL measures it from the standbys' replies).
/// </summary>
public static class PrimaryReplication
{
    private const string Query = """
        SELECT application_name, client_addr::text, state, sync_state, sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
               CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint END,
               extract(epoch FROM write_lag)::float8, extract(epoch FROM flush_lag)::float8, extract(epoch FROM replay_lag)::float8
        FROM pg_stat_replication ORDER BY application_name
        """;

    /// <summary>The standbys streaming from the server at <paramref name="host"/>:<paramref name="port"/>; an <see cref="OperatorError"/> saying why when it cannot be asked.</summary>
    public static async Task<IReadOnlyList<StandbyReplication>> ReadAsync(string host, int port, string? password, CancellationToken cancellationToken)
    {
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = port,
            Username = "postgres",
            Password = password,
            Database = "postgres",
            Pooling = false,
            Timeout = 3,
            CommandTimeout = 3,
            ApplicationName = "pgha-api",
        }.ConnectionString;
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(Query, connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var rows = new List<StandbyReplication>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
                double? Seconds(int i) => reader.IsDBNull(i) ? null : Math.Round(reader.GetDouble(i), 3);
                rows.Add(new StandbyReplication(reader.GetString(0), Text(1), Text(2) ?? "unknown", Text(3) ?? "unknown", Text(4), Text(5), Text(6), Text(7),
                    reader.IsDBNull(8) ? null : reader.GetInt64(8), Seconds(9), Seconds(10), Seconds(11)));
            }
            return rows;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            throw new OperatorError($"cannot read pg_stat_replication on the primary at {host}:{port}: {e.GetBaseException().Message}");
        }
    }
}
