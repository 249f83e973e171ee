using HA.Core.Replication;
using Npgsql;
using NpgsqlTypes;

namespace HA.Agent.Postgres;

/// <summary>
/// Sets synchronous_standby_names on this node (ALTER SYSTEM + reload) and waits until it is in effect:
/// the session shows the value and every connected walsender has taken its priority from it (a walsender
/// releases waiting commits by its own reading of the setting). Returns the WAL position after that.
/// </summary>
public static class SynchronousStandbyNames
{
    public static async Task SetAsync(NodeSettings node, string value, CancellationToken cancellationToken)
    {
        await NodeSql.ExecuteAsync(node, $"ALTER SYSTEM SET synchronous_standby_names = {PostgresParameters.Literals("synchronous_standby_names", value)}", cancellationToken).ConfigureAwait(false);
        await NodeSql.ExecuteAsync(node, "SELECT pg_reload_conf()", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>On a primary: set, wait until in effect (at most <paramref name="timeout"/>), return the current LSN.</summary>
    public static async Task<Lsn> ApplyOnPrimaryAsync(NodeSettings node, string value, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await SetAsync(node, value, cancellationToken).ConfigureAwait(false);
        var quorum = SyncQuorum.Parse(value);
        var deadline = DateTimeOffset.UtcNow + timeout;
        string seen = "";
        while (true)
        {
            await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node));
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var recovery = new NpgsqlCommand("SELECT pg_is_in_recovery()", connection))
            {
                if ((bool)(await recovery.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                    throw new InvalidOperationException($"{node.Name} is in recovery, not a primary: synchronous_standby_names set to '{value}' but not in effect");
            }
            await using (var show = new NpgsqlCommand("SELECT current_setting('synchronous_standby_names'), coalesce(bool_and(CASE WHEN sync_priority > 0 THEN 1 ELSE 0 END = CASE WHEN @names IS NULL OR application_name = ANY(@names) THEN @listed ELSE 0 END), true) FROM pg_stat_replication WHERE state IN ('streaming', 'catchup')", connection))
            {
                show.Parameters.Add(new NpgsqlParameter("names", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = quorum is null ? DBNull.Value : quorum.Standbys.ToArray() });
                show.Parameters.AddWithValue("listed", quorum is null || !quorum.IsEmpty ? 1 : 0);
                await using var reader = await show.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                seen = reader.GetString(0);
                var walsendersAgree = reader.GetBoolean(1);
                if (seen == value && walsendersAgree)
                {
                    await reader.DisposeAsync().ConfigureAwait(false);
                    // The checkpointer publishes whether any standby is waited for; give it a moment too.
                    await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                    await using var lsn = new NpgsqlCommand("SELECT pg_current_wal_lsn()::text", connection);
                    return Lsn.Parse((string)(await lsn.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!);
                }
            }
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"synchronous_standby_names on {node.Name} shows '{seen}' and its walsenders have not all taken '{value}' after {timeout.TotalSeconds:0.#} s");
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }
}
