using System.Diagnostics;
using Npgsql;

namespace HA.Testing.Checking;

/// <summary>
/// One INSERT a <see cref="WriteRecorder"/> sent to one node. Its commit, if it happened, happened
/// between <see cref="SentAt"/> and <see cref="AckedAt"/>; every time comes from the recorder's one
/// monotonic clock, so times of different nodes' writers compare. <see cref="AckedAt"/> is set only
/// when the node answered the commit with success; an attempt with an error may still have committed
/// (the answer can be lost in a crash).
/// </summary>
public sealed record WriteAttempt(long Id, string Node, DateTimeOffset SentAt, DateTimeOffset? AckedAt, string? Error)
{
    public bool Acknowledged => AckedAt is not null;

    public override string ToString() =>
        $"id {Id} on {Node} sent {HistoryTimes.Format(SentAt)} " + (AckedAt is { } acked ? $"acked {HistoryTimes.Format(acked)}" : $"failed: {Error}");
}

/// <summary>
/// A client that commits continuously to every node of a cluster and records every outcome: one
/// writer per node, each pinned to its node by a direct connection string, so a node that accepts a
/// write it should not (a second writer) shows up in the history instead of being hidden by routing.
/// Feed <see cref="Attempts"/> to <see cref="HistoryChecker"/>.
/// </summary>
public sealed class WriteRecorder : IAsyncDisposable
{
    /// <summary>The table every writer inserts into; created on whichever node accepts writes first.</summary>
    public const string Table = "pgha_acknowledged";

    /// <summary>The node name of a failed attempt made through a proxy (which server it reached is not known).</summary>
    public const string ThroughProxy = "(through the proxy)";

    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(60);

    private readonly IReadOnlyDictionary<string, string> _connectionStrings;
    private readonly TimeSpan _every;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _base;
    private readonly long _baseTimestamp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<WriteAttempt> _attempts = [];
    private readonly Dictionary<string, int> _acknowledgedBy = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _lastErrorOf = new(StringComparer.Ordinal);
    private readonly bool _throughProxy;
    private Task _writers = Task.CompletedTask;
    private long _lastId;
    private int _acknowledged;

    private WriteRecorder(IReadOnlyDictionary<string, string> nodeConnectionStrings, TimeSpan every, TimeProvider time, bool throughProxy = false)
    {
        _throughProxy = throughProxy;
        _connectionStrings = nodeConnectionStrings.ToDictionary(n => n.Key, n => Pinned(n.Value), StringComparer.Ordinal);
        _every = every;
        _time = time;
        _base = time.GetUtcNow();
        _baseTimestamp = time.GetTimestamp();
    }

    /// <summary>Every attempt so far, in the order they ended.</summary>
    public IReadOnlyList<WriteAttempt> Attempts
    {
        get { lock (_lock) return _attempts.ToList(); }
    }

    /// <summary>How many commits were acknowledged, by any node.</summary>
    public int Acknowledged => Volatile.Read(ref _acknowledged);

    public IReadOnlyCollection<string> Nodes => _connectionStrings.Keys.ToList();

    /// <summary>How many commits <paramref name="node"/> acknowledged.</summary>
    public int AcknowledgedOn(string node)
    {
        lock (_lock) return _acknowledgedBy.GetValueOrDefault(node);
    }

    /// <summary>
    /// Creates <see cref="Table"/> on whichever node accepts writes (retrying until one does, up to
    /// 60 s), then starts one writer per node that inserts a new row every <paramref name="every"/>.
    /// </summary>
    /// <param name="nodeConnectionStrings">node name → an Npgsql connection string that reaches that
    /// node directly (not through a proxy). Its timeouts are replaced by short ones (connect 2 s,
    /// command 2 s) and pooling is turned off, so a dead node costs one short failure per attempt.</param>
    /// <param name="time">the clock of every recorded time; <see cref="TimeProvider.System"/> if null.</param>
    public static async Task<WriteRecorder> StartAsync(
        IReadOnlyDictionary<string, string> nodeConnectionStrings, TimeSpan every, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        if (nodeConnectionStrings.Count == 0) throw new ArgumentException("the recorder needs at least one node", nameof(nodeConnectionStrings));
        return await StartWritersAsync(nodeConnectionStrings, every, throughProxy: false, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One writer that commits through a proxy's primary port and records each acknowledged write under
    /// the node that committed it, as that server names itself (its <c>cluster_name</c>, which local
    /// clusters set to the node's name): the history checker then sees whether the proxy ever let a write
    /// reach a node that was not the primary of the moment. A failed attempt is recorded under
    /// <see cref="ThroughProxy"/>. Connection settings as in <see cref="StartAsync"/>.
    /// </summary>
    public static Task<WriteRecorder> StartThroughProxyAsync(string proxyConnectionString, TimeSpan every, CancellationToken cancellationToken, TimeProvider? time = null) =>
        StartWritersAsync(new Dictionary<string, string> { [ThroughProxy] = proxyConnectionString }, every, throughProxy: true, time, cancellationToken);

    /// <summary>Creates the table, then starts one writer per connection string.</summary>
    private static async Task<WriteRecorder> StartWritersAsync(
        IReadOnlyDictionary<string, string> connectionStrings, TimeSpan every, bool throughProxy, TimeProvider? time, CancellationToken cancellationToken)
    {
        if (every <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(every), every, "the interval between writes must be positive");
        var recorder = new WriteRecorder(connectionStrings, every, time ?? TimeProvider.System, throughProxy);
        recorder._lastId = await recorder.CreateTableAsync(cancellationToken).ConfigureAwait(false);
        recorder._writers = Task.WhenAll(recorder._connectionStrings.Select(n => Task.Run(() => recorder.WriteLoopAsync(n.Key, n.Value))));
        return recorder;
    }

    /// <summary>
    /// Waits until <paramref name="node"/> acknowledged <paramref name="count"/> more commits than it
    /// had when called; on timeout says how many it did and its last error.
    /// </summary>
    public async Task WaitForAcknowledgedOnAsync(string node, int count, TimeSpan timeout)
    {
        if (!_throughProxy && !_connectionStrings.ContainsKey(node)) throw new ArgumentException($"the recorder has no writer for node '{node}' (nodes: {string.Join(", ", _connectionStrings.Keys)})", nameof(node));
        var start = _time.GetTimestamp();
        var before = AcknowledgedOn(node);
        while (AcknowledgedOn(node) < before + count)
        {
            if (_time.GetElapsedTime(start) > timeout)
            {
                string? lastError;
                lock (_lock) lastError = _lastErrorOf.GetValueOrDefault(node);
                throw new TimeoutException(
                    $"{node} acknowledged {AcknowledgedOn(node) - before} of {count} writes within {timeout.TotalSeconds:0.#} s; its last error: {lastError ?? "none"}");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10), _time).ConfigureAwait(false);
        }
    }

    /// <summary>Stops every writer; an attempt cut short is recorded with an unknown outcome.</summary>
    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        await _writers.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>The recorder's clock (the one <see cref="WriteAttempt"/> times are on).</summary>
    public DateTimeOffset Now() => _base + _time.GetElapsedTime(_baseTimestamp);

    /// <summary>Creates the table on the first node that takes it and returns the highest id already in it.</summary>
    private async Task<long> CreateTableAsync(CancellationToken cancellationToken)
    {
        var start = _time.GetTimestamp();
        var lastSeen = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            foreach (var (node, connectionString) in _connectionStrings)
            {
                try
                {
                    await using var connection = new NpgsqlConnection(connectionString);
                    await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                    await using (var create = new NpgsqlCommand(
                        $"CREATE TABLE IF NOT EXISTS {Table} (id bigint PRIMARY KEY, writer text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())", connection))
                        await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    await using var highest = new NpgsqlCommand($"SELECT coalesce(max(id), 0) FROM {Table}", connection);
                    return (long)(await highest.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    lastSeen[node] = Describe(e);
                }
            }
            if (_time.GetElapsedTime(start) > SetupTimeout)
                throw new TimeoutException(
                    $"no node accepted CREATE TABLE {Table} within {SetupTimeout.TotalSeconds:0} s; last seen: {string.Join("; ", lastSeen.Select(s => $"{s.Key}: {s.Value}"))}");
            await Task.Delay(TimeSpan.FromMilliseconds(200), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync(string node, string connectionString)
    {
        var stopping = _stop.Token;
        NpgsqlConnection? connection = null;
        using var timer = new PeriodicTimer(_every, _time);
        try
        {
            do
            {
                var id = Interlocked.Increment(ref _lastId);
                var sentAt = Now();
                try
                {
                    if (connection is null)
                    {
                        connection = new NpgsqlConnection(connectionString);
                        await connection.OpenAsync(stopping).ConfigureAwait(false);
                        sentAt = Now(); // the commit cannot start before the INSERT is sent: a tighter window
                    }
                    // Through a proxy the server says who it is: the write is recorded under the node that committed it.
                    await using var insert = new NpgsqlCommand(_throughProxy
                        ? $"INSERT INTO {Table} (id, writer) VALUES (@id, current_setting('cluster_name')) RETURNING writer"
                        : $"INSERT INTO {Table} (id, writer) VALUES (@id, @node) RETURNING writer", connection);
                    insert.Parameters.AddWithValue("id", id);
                    if (!_throughProxy) insert.Parameters.AddWithValue("node", node);
                    var committedBy = (string)(await insert.ExecuteScalarAsync(stopping).ConfigureAwait(false))!;
                    Record(new WriteAttempt(id, committedBy, sentAt, Now(), null));
                }
                catch (Exception e)
                {
                    // Whatever went wrong (refused, read-only 25006, shutdown 57P01/57P03, timeout), the
                    // attempt is a failure and the next one starts on a fresh connection.
                    Record(new WriteAttempt(id, node, sentAt, null,
                        stopping.IsCancellationRequested ? "stopped by the recorder before an answer (outcome unknown)" : Describe(e)));
                    if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
                    connection = null;
                }
            }
            while (!stopping.IsCancellationRequested && await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Record(WriteAttempt attempt)
    {
        lock (_lock)
        {
            _attempts.Add(attempt);
            if (attempt.Acknowledged)
            {
                _acknowledgedBy[attempt.Node] = _acknowledgedBy.GetValueOrDefault(attempt.Node) + 1;
                _acknowledged++;
            }
            else if (attempt.Error is { } error)
            {
                _lastErrorOf[attempt.Node] = error;
            }
        }
    }

    private static string Pinned(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString)
        {
            Timeout = 2,
            CommandTimeout = 2,
            // Do not wait for the server to confirm a cancellation after a timeout: the node may be gone.
            CancellationTimeout = -1,
            Pooling = false,
            ApplicationName = "pgha-write-recorder",
        }.ConnectionString;

    private static string Describe(Exception e) => e switch
    {
        PostgresException pg => $"{pg.SqlState}: {pg.MessageText}",
        NpgsqlException { InnerException: { } inner } npgsql => $"{npgsql.Message} ({inner.GetType().Name}: {inner.Message})",
        _ => $"{e.GetType().Name}: {e.Message}",
    };
}

/// <summary>How the history checker and the recorder print times: UTC to the microsecond.</summary>
internal static class HistoryTimes
{
    public static string Format(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture);
}
