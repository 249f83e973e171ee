using System.Collections.Concurrent;

namespace HA.Proxy;

/// <summary>
/// What the proxy counts, for the metrics endpoint to read: clients accepted, server connects,
/// errors (refusals and broken sessions), bytes each way, and open connections per server node.
/// </summary>
public sealed class ProxyCounters
{
    private long _clientsAccepted;
    private long _serverConnects;
    private long _errors;
    private long _bytesFromClients;
    private long _bytesToClients;
    private long _cancelsForwarded;
    private readonly ConcurrentDictionary<string, long> _open = new(StringComparer.Ordinal);

    public long ClientsAccepted => Interlocked.Read(ref _clientsAccepted);
    public long ServerConnects => Interlocked.Read(ref _serverConnects);
    public long Errors => Interlocked.Read(ref _errors);
    public long BytesFromClients => Interlocked.Read(ref _bytesFromClients);
    public long BytesToClients => Interlocked.Read(ref _bytesToClients);
    public long CancelsForwarded => Interlocked.Read(ref _cancelsForwarded);

    /// <summary>Open client sessions per server node (node name → count).</summary>
    public IReadOnlyDictionary<string, long> OpenConnections => _open.Where(p => p.Value > 0).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    internal void ClientAccepted() => Interlocked.Increment(ref _clientsAccepted);
    internal void ServerConnected(string node)
    {
        Interlocked.Increment(ref _serverConnects);
        _open.AddOrUpdate(node, 1, (_, n) => n + 1);
    }
    internal void ServerReleased(string node) => _open.AddOrUpdate(node, 0, (_, n) => n - 1);
    internal void Error() => Interlocked.Increment(ref _errors);
    internal void FromClient(long bytes) => Interlocked.Add(ref _bytesFromClients, bytes);
    internal void ToClient(long bytes) => Interlocked.Add(ref _bytesToClients, bytes);
    internal void CancelForwarded() => Interlocked.Increment(ref _cancelsForwarded);
}
