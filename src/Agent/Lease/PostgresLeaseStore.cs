using HA.Core.Errors;
using HA.Core.Leases;
using Npgsql;

namespace HA.Agent.Lease;

/// <summary>
/// Leases as rows in the witness database (the embedded default, for one machine). Expiry is judged by
/// the database's clock (<c>clock_timestamp()</c>) alone, so the contenders' clocks do not matter; the
/// token is a per-key counter bumped by every acquisition.
/// </summary>
public sealed class PostgresLeaseStore : ILeaseStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _table;
    private readonly TimeSpan _operationTimeout;

    private PostgresLeaseStore(NpgsqlDataSource dataSource, string schema, TimeSpan operationTimeout)
    {
        _dataSource = dataSource;
        _table = $"{schema}.leases";
        _operationTimeout = operationTimeout;
    }

    public string Backend => "postgres";

    public TimeSpan MinimumTtl => TimeSpan.FromSeconds(1);

    /// <summary>Connects and creates the lease table; errors name <c>lease.postgres.connection_string</c>.</summary>
    public static async Task<PostgresLeaseStore> OpenAsync(string connectionString, string schema = "pgha", TimeSpan? operationTimeout = null, CancellationToken cancellationToken = default)
    {
        NpgsqlDataSource dataSource;
        try
        {
            // A cancelled renewal must give up at once, not wait for the server to answer the cancel request
            // (through a partition it never does): the holder has a deadline to keep.
            dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Timeout = 5, CancellationTimeout = -1 }.ConnectionString);
        }
        catch (ArgumentException e)
        {
            throw new OperatorError($"lease.postgres.connection_string is malformed: {e.Message}");
        }
        try
        {
            await using var command = dataSource.CreateCommand(
                $"""
                CREATE SCHEMA IF NOT EXISTS {schema};
                CREATE TABLE IF NOT EXISTS {schema}.leases (
                    key text PRIMARY KEY,
                    holder text,
                    handle text,
                    token bigint NOT NULL,
                    ttl interval NOT NULL,
                    expires_at timestamptz NOT NULL);
                """);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            var reason = e is PostgresException { SqlState: "28P01" or "28000" } ? "the credentials were refused" : "the database is unreachable";
            throw new OperatorError($"lease.postgres.connection_string: {reason} ({e.GetBaseException().Message})");
        }
        return new PostgresLeaseStore(dataSource, schema, operationTimeout ?? TimeSpan.FromSeconds(2));
    }

    public async Task<LeaseGrant?> TryAcquireAsync(string key, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        LeaseTtl.Check(this, ttl);
        var handle = Guid.NewGuid().ToString("N");
        return await RunAsync("acquire", async (command, cancellationToken) =>
        {
            command.CommandText = $"""
                INSERT INTO {_table} AS l (key, holder, handle, token, ttl, expires_at)
                VALUES (@key, @holder, @handle, 1, @ttl, clock_timestamp() + @ttl)
                ON CONFLICT (key) DO UPDATE
                    SET holder = excluded.holder, handle = excluded.handle, token = l.token + 1, ttl = excluded.ttl, expires_at = excluded.expires_at
                    WHERE l.holder IS NULL OR l.expires_at <= clock_timestamp()
                RETURNING token
                """;
            command.Parameters.AddWithValue("key", key);
            command.Parameters.AddWithValue("holder", holder);
            command.Parameters.AddWithValue("handle", handle);
            command.Parameters.AddWithValue("ttl", ttl);
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long token
                ? new LeaseGrant(key, holder, token, ttl, handle)
                : null;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        var renewed = await RunAsync("renew", async (command, cancellationToken) =>
        {
            command.CommandText = $"UPDATE {_table} SET expires_at = clock_timestamp() + ttl WHERE key = @key AND handle = @handle AND holder IS NOT NULL AND expires_at > clock_timestamp()";
            command.Parameters.AddWithValue("key", lease.Key);
            command.Parameters.AddWithValue("handle", lease.Handle);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        if (renewed == 0) throw new LeaseLostException(lease, "it expired or was taken over before this renewal");
    }

    public Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken) =>
        RunAsync("release", async (command, cancellationToken) =>
        {
            command.CommandText = $"UPDATE {_table} SET holder = NULL, handle = NULL, expires_at = clock_timestamp() WHERE key = @key AND handle = @handle";
            command.Parameters.AddWithValue("key", lease.Key);
            command.Parameters.AddWithValue("handle", lease.Handle);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<LeaseHolder?> ReadAsync(string key, CancellationToken cancellationToken) =>
        RunAsync("read", async (command, cancellationToken) =>
        {
            command.CommandText = $"SELECT holder, token, expires_at FROM {_table} WHERE key = @key AND holder IS NOT NULL AND expires_at > clock_timestamp()";
            command.Parameters.AddWithValue("key", key);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new LeaseHolder(key, reader.GetString(0), reader.GetInt64(1), new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc)))
                : null;
        }, cancellationToken);

    public IAsyncEnumerable<LeaseHolder?> WatchAsync(string key, CancellationToken cancellationToken) =>
        // Expiry is a time passing, not a write: there is nothing to be notified of, so poll.
        PollingLeaseWatch.WatchAsync(token => ReadAsync(key, token), TimeSpan.FromMilliseconds(100), cancellationToken);

    private async Task<T> RunAsync<T>(string operation, Func<NpgsqlCommand, CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_operationTimeout);
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(deadline.Token).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            return await run(command, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            throw new LeaseStoreUnavailableException(Backend, operation, e);
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}

/// <summary>TTL checks shared by the backends.</summary>
public static class LeaseTtl
{
    public static void Check(ILeaseStore store, TimeSpan ttl)
    {
        if (ttl < store.MinimumTtl)
            throw new OperatorError($"lease.ttl {ttl.TotalSeconds:0.###}s is below the {store.Backend} backend's minimum of {store.MinimumTtl.TotalSeconds:0.###}s");
    }
}
