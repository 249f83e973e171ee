using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HA.Core.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Gossip;

/// <summary>
/// One agent's end of the gossip: every interval it sends its current heartbeat, authenticated with the
/// cluster secret, to each peer over UDP, and it keeps the latest heartbeat accepted from each peer.
/// A datagram is accepted only with a valid MAC, for this cluster, from a peer's address, and newer
/// (incarnation, sequence) than the last one accepted from that peer; anything else is dropped and
/// counted by reason. The peers are the configured ones until <see cref="UpdatePeers"/> replaces them
/// (a member that joined or left the cluster).
/// </summary>
public sealed class GossipNode : IAsyncDisposable
{
    private static long s_lastIncarnation;

    private readonly GossipOptions _options;
    private readonly Func<Heartbeat> _current;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly Lock _latestWrite = new();
    private volatile IReadOnlyDictionary<string, IPEndPoint> _peers;
    private volatile IReadOnlyDictionary<string, IPAddress> _peerAddresses;
    private readonly CancellationTokenSource _stop = new();
    // One heartbeat at a time, so sequence numbers leave this node in order.
    private readonly SemaphoreSlim _sending = new(1, 1);
    private ImmutableDictionary<string, ReceivedHeartbeat> _latest = ImmutableDictionary.Create<string, ReceivedHeartbeat>(StringComparer.Ordinal);
    private long _sequence;
    private Task _sendLoop = Task.CompletedTask;
    private Task _receiveLoop = Task.CompletedTask;
    private int _disposed;

    private GossipNode(GossipOptions options, Func<Heartbeat> current, TimeProvider time, ILogger logger, Socket socket)
    {
        _options = options;
        _current = current;
        _time = time;
        _logger = logger;
        _socket = socket;
        _peers = new Dictionary<string, IPEndPoint>(options.Peers, StringComparer.Ordinal);
        _peerAddresses = options.Peers.ToDictionary(p => p.Key, p => Normalize(p.Value.Address), StringComparer.Ordinal);
        Incarnation = NextIncarnation(time);
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>This node's name.</summary>
    public string Node => _options.Node;

    /// <summary>When this node started (unix ms), unique and increasing within the process.</summary>
    public long Incarnation { get; }

    /// <summary>The bound address (with the actual port when gossip.bind asked for port 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The latest heartbeat accepted from each peer that has been heard from: a snapshot.</summary>
    public IReadOnlyDictionary<string, ReceivedHeartbeat> Latest => Volatile.Read(ref _latest);

    public GossipCounters Counters { get; } = new();

    /// <summary>Raised on the receive loop for every accepted heartbeat; keep handlers short.</summary>
    public event Action<ReceivedHeartbeat>? Received;

    /// <summary>Binds gossip.bind and starts sending <paramref name="current"/> every interval and receiving.</summary>
    /// <exception cref="OperatorError">The options are invalid, or the address cannot be bound (the message names it).</exception>
    public static GossipNode Start(GossipOptions options, Func<Heartbeat> current, TimeProvider time, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        var node = new GossipNode(options, current, time, logger ?? NullLogger.Instance, Bind(options.Bind));
        node._receiveLoop = Task.Run(() => node.ReceiveLoopAsync(node._stop.Token));
        node._sendLoop = Task.Run(() => node.SendLoopAsync(node._stop.Token));
        node._logger.LogInformation("Gossip of {Node} ({Cluster}) on {Bind} to {Peers} every {Interval} ms, incarnation {Incarnation}",
            options.Node, options.Cluster, node.LocalEndPoint, string.Join(", ", options.Peers.Keys), options.Interval.TotalMilliseconds, node.Incarnation);
        return node;
    }

    /// <summary>The peers heartbeats go to and are accepted from, now.</summary>
    public IReadOnlyDictionary<string, IPEndPoint> Peers => _peers;

    /// <summary>
    /// Replaces the peers (a member joined or left): heartbeats go to the new set at once, a removed
    /// peer's heartbeats are dropped as from an unknown sender and its last one is forgotten. A peer of
    /// another address family than the bound socket is skipped with a warning.
    /// </summary>
    public void UpdatePeers(IReadOnlyDictionary<string, IPEndPoint> peers)
    {
        var usable = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        foreach (var (peer, endpoint) in peers)
        {
            if (string.Equals(peer, _options.Node, StringComparison.OrdinalIgnoreCase)) continue;
            if (!_options.Bind.Address.Equals(IPAddress.IPv6Any) && endpoint.AddressFamily != _options.Bind.AddressFamily)
            {
                _logger.LogWarning("Gossip of {Node}: peer {Peer} at {Endpoint} cannot be reached from {Bind}: not gossiping with it", Node, peer, endpoint, _options.Bind);
                continue;
            }
            usable[peer] = endpoint;
        }
        var before = _peers;
        lock (_latestWrite)
        {
            _peerAddresses = usable.ToDictionary(p => p.Key, p => Normalize(p.Value.Address), StringComparer.Ordinal);
            _peers = usable;
            var latest = Volatile.Read(ref _latest);
            Volatile.Write(ref _latest, latest.RemoveRange(latest.Keys.Where(k => !usable.ContainsKey(k))));
        }
        _logger.LogInformation("Gossip of {Node}: peers now {Peers} (added: {Added}; removed: {Removed})", Node, string.Join(", ", usable.Keys.Order(StringComparer.Ordinal)),
            string.Join(", ", usable.Keys.Except(before.Keys).DefaultIfEmpty("none")), string.Join(", ", before.Keys.Except(usable.Keys).DefaultIfEmpty("none")));
    }

    /// <summary>Sends a heartbeat now, outside the interval: for a change the peers should learn at once.</summary>
    public async Task SendNowAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        await SendHeartbeatAsync(linked.Token).ConfigureAwait(false);
    }

    /// <summary>Whether a heartbeat from <paramref name="peer"/> arrived within <paramref name="maxAge"/> (on this machine's monotonic clock).</summary>
    public bool IsFresh(string peer, TimeSpan maxAge) =>
        Latest.TryGetValue(peer, out var received) && _time.GetElapsedTime(received.ReceivedTimestamp) <= maxAge;

    private static Socket Bind(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // [::] also reaches and hears IPv4 peers.
            if (endpoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            socket.Bind(endpoint);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw e.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? new OperatorError($"gossip port {endpoint} is in use: stop what uses it or set gossip.bind to a free port", e)
                : new OperatorError($"gossip cannot bind {endpoint} ({e.SocketErrorCode}): set gossip.bind to an address of this machine", e);
        }
    }

    private static long NextIncarnation(TimeProvider time)
    {
        // Two nodes started in one process (tests, a restart within the same millisecond) still get increasing incarnations.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        while (true)
        {
            var last = Interlocked.Read(ref s_lastIncarnation);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref s_lastIncarnation, next, last) == last) return next;
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.Interval, _time);
            do
            {
                await SendHeartbeatAsync(cancellationToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            _logger.LogCritical(e, "Gossip of {Node}: the send loop failed; peers will stop hearing this node", Node);
        }
    }

    private async Task SendHeartbeatAsync(CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            byte[] datagram;
            try
            {
                var state = _current() ?? throw new InvalidOperationException("the heartbeat source returned null");
                var heartbeat = state with
                {
                    Cluster = _options.Cluster,
                    Node = _options.Node,
                    Incarnation = Incarnation,
                    Sequence = ++_sequence,
                    SentAt = _time.GetUtcNow(),
                };
                datagram = HeartbeatDatagram.Seal(heartbeat, _options.Secret);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogError(e, "Gossip of {Node}: heartbeat skipped, its state could not be taken or encoded", Node);
                return;
            }
            foreach (var (peer, endpoint) in _peers)
            {
                try
                {
                    await _socket.SendToAsync(datagram, SocketFlags.None, endpoint, cancellationToken).ConfigureAwait(false);
                    Counters.CountSent();
                }
                catch (SocketException e)
                {
                    // A peer that is down is the normal case gossip exists to detect: not worth more than a debug line.
                    Counters.CountSendFailure();
                    _logger.LogDebug("Gossip of {Node}: could not send to {Peer} at {Endpoint}: {Error}", Node, peer, endpoint, e.SocketErrorCode);
                }
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        // Larger than any UDP payload, so an oversized datagram is seen whole and refused rather than truncated.
        var buffer = new byte[64 * 1024];
        EndPoint anySource = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, anySource, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset
                or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.MessageSize)
            {
                // An ICMP error about an earlier send to a peer that is down, reported on this socket: keep receiving.
                continue;
            }
            catch (SocketException e)
            {
                _logger.LogWarning("Gossip of {Node}: receiving failed ({Error}); retrying", Node, e.SocketErrorCode);
                try
                {
                    await Task.Delay(_options.Interval, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            Accept(buffer.AsSpan(0, result.ReceivedBytes), (IPEndPoint)result.RemoteEndPoint);
        }
    }

    private void Accept(ReadOnlySpan<byte> datagram, IPEndPoint source)
    {
        var receivedTimestamp = _time.GetTimestamp();
        var receivedAt = _time.GetUtcNow();
        if (HeartbeatDatagram.TryOpen(datagram, _options.Secret, out var heartbeat) is { } unusable)
        {
            Reject(unusable, source, claimed: null);
            return;
        }
        if (!string.Equals(heartbeat!.Cluster, _options.Cluster, StringComparison.Ordinal))
        {
            Reject(GossipRejection.WrongCluster, source, heartbeat.Node);
            return;
        }
        if (!_peerAddresses.TryGetValue(heartbeat.Node, out var peerAddress))
        {
            Reject(GossipRejection.UnknownSender, source, heartbeat.Node);
            return;
        }
        // The port is not checked: a peer behind NAT or bound to another port still sends from its address.
        if (!Normalize(source.Address).Equals(peerAddress))
        {
            Reject(GossipRejection.WrongSource, source, heartbeat.Node);
            return;
        }
        ReceivedHeartbeat? previous;
        var received = new ReceivedHeartbeat(heartbeat, receivedAt, receivedTimestamp);
        lock (_latestWrite)
        {
            // Checked again under the lock: a peer removed meanwhile stays removed.
            if (!_peerAddresses.ContainsKey(heartbeat.Node)) return;
            var latest = Volatile.Read(ref _latest);
            previous = latest.GetValueOrDefault(heartbeat.Node);
            if (previous is not null && !IsNewer(heartbeat, previous.Heartbeat))
            {
                Reject(GossipRejection.Replay, source, heartbeat.Node);
                return;
            }
            Volatile.Write(ref _latest, latest.SetItem(heartbeat.Node, received));
        }
        Counters.CountReceived();
        if (previous is null || previous.Heartbeat.Incarnation != heartbeat.Incarnation)
        {
            _logger.LogInformation("Gossip of {Node}: hearing {Peer} from {Source}, incarnation {Incarnation} (before: {Previous})",
                Node, heartbeat.Node, source, heartbeat.Incarnation, previous?.Heartbeat.Incarnation.ToString(CultureInfo.InvariantCulture) ?? "never heard");
        }
        try
        {
            Received?.Invoke(received);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Gossip of {Node}: a handler of the heartbeat from {Peer} failed", Node, heartbeat.Node);
        }
    }

    private static bool IsNewer(Heartbeat candidate, Heartbeat last) =>
        candidate.Incarnation > last.Incarnation || (candidate.Incarnation == last.Incarnation && candidate.Sequence > last.Sequence);

    private void Reject(GossipRejection reason, IPEndPoint source, string? claimed)
    {
        var count = Counters.CountRejected(reason);
        // Loud the first time and at each power of ten, so a flood cannot flood the log too.
        var level = IsPowerOfTen(count) ? LogLevel.Warning : LogLevel.Debug;
        _logger.Log(level, "Gossip of {Node}: dropped a datagram from {Source} claiming to be {Claimed}: {Reason} ({Count} so far)",
            Node, source, claimed ?? "?", GossipCounters.Name(reason), count);
    }

    private static bool IsPowerOfTen(long value)
    {
        while (value >= 10 && value % 10 == 0) value /= 10;
        return value == 1;
    }

    public override string ToString()
    {
        var seen = string.Join(", ", Latest.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{p.Key} #{p.Value.Heartbeat.Incarnation}.{p.Value.Heartbeat.Sequence} {_time.GetElapsedTime(p.Value.ReceivedTimestamp).TotalMilliseconds:0} ms ago")));
        return $"gossip {Node} on {LocalEndPoint} hears [{seen}]; {Counters}";
    }

    /// <summary>Stops sending and receiving and closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await Task.WhenAll(_sendLoop, _receiveLoop).ConfigureAwait(false);
        // _sending is left to the GC: a SendNowAsync still unwinding may release it.
        _stop.Dispose();
    }
}
