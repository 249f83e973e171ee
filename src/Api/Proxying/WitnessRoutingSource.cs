using HA.Core.Errors;
using HA.Core.State;
using HA.Projections;
using HA.Proxy.Routing;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace HA.Api.Proxying;

/// <summary>
/// The proxy's routing table, read from the witness store: woken by the store's LISTEN/NOTIFY as soon
/// as an append commits, and polled every <see cref="PollInterval"/> anyway (a notification sent while
/// the listening connection was down is lost). The witness stores routing facts with no limit applied;
/// this proxy applies its own proxy.max_replica_lag to them.
/// </summary>
public sealed class WitnessRoutingSource : IRoutingSource, IAsyncDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    private readonly WitnessStore _store;
    private readonly WitnessStoreOptions _options;
    private readonly string _cluster;
    private readonly long _maxReplicaLag;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private WitnessChangeListener? _listener;
    private RoutingTable? _current;
    private string? _lastProblem;
    private Task _loop = Task.CompletedTask;

    private WitnessRoutingSource(WitnessStore store, WitnessStoreOptions options, string cluster, long maxReplicaLag, ILogger logger)
    {
        _store = store;
        _options = options;
        _cluster = cluster;
        _maxReplicaLag = maxReplicaLag;
        _logger = logger;
    }

    public RoutingTable? Current => Volatile.Read(ref _current);

    public event Action<RoutingTable>? Changed;

    /// <summary>Reads the table once (a failure is logged, not thrown: the proxy refuses clients with 08006 until a read succeeds) and starts following it.</summary>
    public static async Task<WitnessRoutingSource> StartAsync(WitnessStore store, WitnessStoreOptions options, string cluster, long maxReplicaLag, ILogger logger, CancellationToken cancellationToken)
    {
        var source = new WitnessRoutingSource(store, options, cluster, maxReplicaLag, logger);
        await source.RefreshAsync(cancellationToken).ConfigureAwait(false);
        source._loop = Task.Run(source.FollowAsync, CancellationToken.None);
        return source;
    }

    private async Task FollowAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await WaitForChangeAsync(token).ConfigureAwait(false);
                await RefreshAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task WaitForChangeAsync(CancellationToken token)
    {
        using var tick = CancellationTokenSource.CreateLinkedTokenSource(token);
        tick.CancelAfter(PollInterval);
        try
        {
            _listener ??= await WitnessChangeListener.StartAsync(_options, tick.Token).ConfigureAwait(false);
            if (!await _listener.Changes.WaitToReadAsync(tick.Token).ConfigureAwait(false)) await DropListenerAsync().ConfigureAwait(false);
            else while (_listener.Changes.TryRead(out _)) { }
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            // The poll interval elapsed.
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or System.Threading.Channels.ChannelClosedException)
        {
            await DropListenerAsync().ConfigureAwait(false);
            await Task.Delay(PollInterval, token).ConfigureAwait(false);
        }
    }

    private async Task RefreshAsync(CancellationToken token)
    {
        RoutingTable table;
        try
        {
            table = RoutingTable.From(await _store.RoutingAsync(_cluster, token).ConfigureAwait(false), _maxReplicaLag);
        }
        catch (Exception e) when (e is NpgsqlException or OperatorError or TimeoutException or System.Net.Sockets.SocketException)
        {
            var problem = e is OperatorError ? e.Message : $"cannot read the routing table from the witness store: {e.GetBaseException().Message}";
            if (problem != _lastProblem) _logger.LogWarning("proxy: {Problem}; keeping the last table (version {Version})", problem, Current?.Version);
            _lastProblem = problem;
            return;
        }
        _lastProblem = null;
        var before = Current;
        if (before is not null && before.Version == table.Version) return;
        Volatile.Write(ref _current, table);
        if (before?.Primary != table.Primary)
            _logger.LogInformation("proxy: routing version {Version} term {Term}: primary {Primary} (was {Before})", table.Version, table.Term,
                table.Primary is { } p ? $"{p.Node} at {p.Host}:{p.Port}" : "none", before?.Primary?.Node ?? "none");
        Changed?.Invoke(table);
    }

    private async Task DropListenerAsync()
    {
        if (_listener is { } broken) await broken.DisposeAsync().ConfigureAwait(false);
        _listener = null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await DropListenerAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
