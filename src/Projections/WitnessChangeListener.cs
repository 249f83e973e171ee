using System.Text.Json;
using System.Threading.Channels;
using Npgsql;

namespace HA.Projections;

/// <summary>
/// Listens for committed appends from any process (PostgreSQL LISTEN on the store's channel): how the
/// proxy and the SSE stream learn of a new routing table at once. Callers should still poll now and
/// then: a notification sent while the connection was down is lost.
/// </summary>
public sealed class WitnessChangeListener : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly Channel<ClusterChanged> _changes = Channel.CreateUnbounded<ClusterChanged>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private WitnessChangeListener(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notification += (_, e) =>
        {
            var change = JsonSerializer.Deserialize<ClusterChanged>(e.Payload);
            if (change is not null) _changes.Writer.TryWrite(change);
        };
        _loop = Task.Run(WaitLoopAsync);
    }

    public ChannelReader<ClusterChanged> Changes => _changes.Reader;

    public static async Task<WitnessChangeListener> StartAsync(WitnessStoreOptions options, CancellationToken cancellationToken = default)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(options.ConnectionString) { Pooling = false, KeepAlive = 10 }.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var listen = new NpgsqlCommand($"LISTEN {options.NotificationChannel}", connection))
            await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return new WitnessChangeListener(connection);
    }

    private async Task WaitLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested) await _connection.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        catch (NpgsqlException e)
        {
            _changes.Writer.TryComplete(e);
            return;
        }
        _changes.Writer.TryComplete();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
