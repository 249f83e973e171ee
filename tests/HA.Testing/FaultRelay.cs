using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace HA.Testing;

/// <summary>What a cut <see cref="FaultRelay"/> does with connections.</summary>
public enum CutMode
{
    /// <summary>
    /// Like a real partition: existing connections stop carrying data both ways but stay open, new ones are
    /// accepted and never answered; clients find out only through their own timeouts. Everything held is
    /// closed at <see cref="FaultRelay.Heal"/>.
    /// </summary>
    BlackHole,

    /// <summary>Like a peer that went away: existing connections are reset, new ones are reset as soon as they are accepted.</summary>
    Reset,
}

/// <summary>
/// A relay between a node and the rest of a test cluster (DESIGN §11) that can be cut and healed: TCP
/// connections or UDP datagrams arriving on <see cref="ListenEndPoint"/> are forwarded to a target while
/// the relay is whole, and black-holed or reset while it is cut.
/// </summary>
public sealed class FaultRelay : IAsyncDisposable
{
    private const int BufferSize = 16 * 1024;

    private readonly Lock _gate = new();
    private readonly Socket _socket;
    private readonly ProtocolType _protocol;
    private readonly IPEndPoint _target;
    // Not disposed: a loop that outlives DisposeAsync's wait may still look at it.
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Link> _links = [];
    private readonly List<Socket> _held = [];
    private int _heldConnections;
    private EndPoint? _healMarker;
    private long _healMarkerDeadline;
    private readonly HashSet<Task> _running = [];
    private Task _loop = Task.CompletedTask;
    private CutMode? _cut;
    private bool _disposed;
    private int _forwardedConnections;
    private long _forwardedDatagrams;

    private FaultRelay(Socket socket, ProtocolType protocol, IPEndPoint target, string name)
    {
        _socket = socket;
        _protocol = protocol;
        _target = target;
        Name = name;
        ListenEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public string Name { get; }

    /// <summary>Where clients connect or send instead of the target (the bound address, with the real port if 0 was asked for).</summary>
    public IPEndPoint ListenEndPoint { get; }

    public bool IsCut
    {
        get
        {
            lock (_gate) return _cut is not null;
        }
    }

    /// <summary>Connections relayed to the target since the start (not counting those black-holed or reset while cut).</summary>
    public int ForwardedConnections => Volatile.Read(ref _forwardedConnections);

    /// <summary>Client connections a black-hole cut is holding open (existing ones it froze and new ones it accepted).</summary>
    public int HeldConnections
    {
        get
        {
            lock (_gate) return _heldConnections;
        }
    }

    /// <summary>Datagrams relayed to the target since the start.</summary>
    public long ForwardedDatagrams => Interlocked.Read(ref _forwardedDatagrams);

    /// <summary>Listens on <paramref name="listen"/> and relays each accepted connection, both ways, over its own new connection to <paramref name="target"/>.</summary>
    public static FaultRelay StartTcp(IPEndPoint listen, IPEndPoint target, string name)
    {
        var listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(listen);
            listener.Listen(128);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var relay = new FaultRelay(listener, ProtocolType.Tcp, target, name);
        relay._loop = relay.AcceptLoopAsync();
        return relay;
    }

    /// <summary>
    /// Receives datagrams on <paramref name="listen"/> and sends them on to <paramref name="target"/> from the
    /// same socket: one way only, and the target sees the relay's port (the loopback address is kept).
    /// </summary>
    public static FaultRelay StartUdp(IPEndPoint listen, IPEndPoint target, string name)
    {
        var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(listen);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var relay = new FaultRelay(socket, ProtocolType.Udp, target, name);
        relay._loop = relay.DatagramLoopAsync();
        return relay;
    }

    /// <summary>Stops forwarding until <see cref="Heal"/>; cutting again with another mode switches to it.</summary>
    public void Cut(CutMode mode = CutMode.BlackHole)
    {
        List<Socket> toReset = [];
        Link[] frozen;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _cut = mode;
            frozen = [.. _links];
            foreach (var link in frozen)
            {
                link.Freeze();
                // Frozen links no longer belong to their pumps: whatever happens to them now is the cut's doing.
                _held.Add(link.Client);
                _held.Add(link.Upstream);
                _heldConnections++;
            }
            _links.Clear();
            if (mode == CutMode.Reset)
            {
                toReset.AddRange(_held);
                _held.Clear();
                _heldConnections = 0;
            }
        }
        // Cancelling may run a pump's continuation inline, which takes the lock: not while holding it.
        foreach (var link in frozen) link.StopPumps();
        foreach (var socket in toReset) Reset(socket);
    }

    /// <summary>Resumes forwarding for new connections and datagrams; connections held by a black-hole cut are reset so their clients reconnect.</summary>
    public void Heal()
    {
        List<Socket> held;
        using var marker = _protocol == ProtocolType.Udp ? HealMarkerSocket() : null;
        var wasCut = false;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            wasCut = _cut is not null;
            _cut = null;
            held = [.. _held];
            _held.Clear();
            _heldConnections = 0;
            if (wasCut && marker is not null)
            {
                _healMarker = marker.LocalEndPoint;
                // Only if the marker itself is lost (a full receive buffer): do not drop datagrams for ever.
                _healMarkerDeadline = Environment.TickCount64 + 2000;
            }
        }
        foreach (var socket in held) Reset(socket);
        // Datagrams sent while cut may still wait in the socket's queue; everything ahead of this marker is dropped.
        if (wasCut && marker is not null) marker.SendTo([], MarkerTarget());
    }

    public async ValueTask DisposeAsync()
    {
        List<Socket> sockets;
        Link[] frozen;
        Task[] running;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            frozen = [.. _links];
            foreach (var link in frozen) link.Freeze();
            sockets = [.. _held, .. frozen.SelectMany(l => new[] { l.Client, l.Upstream })];
            _links.Clear();
            _held.Clear();
            _heldConnections = 0;
            running = [.. _running];
        }
        foreach (var link in frozen) link.StopPumps();
        await _stopping.CancelAsync();
        _socket.Dispose();
        foreach (var socket in sockets) Reset(socket);
        try
        {
            await Task.WhenAll([_loop, .. running]).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or TimeoutException)
        {
            // The loops end by their sockets being closed under them; one that does not is not worth failing a test over.
        }
    }

    public override string ToString()
    {
        var state = IsCut ? "cut" : "whole";
        var forwarded = _protocol == ProtocolType.Tcp
            ? ForwardedConnections.ToString(CultureInfo.InvariantCulture) + " connections"
            : ForwardedDatagrams.ToString(CultureInfo.InvariantCulture) + " datagrams";
        return $"relay {Name} ({_protocol.ToString().ToLowerInvariant()} {ListenEndPoint} -> {_target}, {state}, {forwarded} forwarded)";
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // a client that gave up before it was accepted
            }

            CutMode? cut;
            lock (_gate)
            {
                cut = _disposed ? CutMode.Reset : _cut;
                if (cut == CutMode.BlackHole)
                {
                    _held.Add(client);
                    _heldConnections++;
                }
            }
            if (cut == CutMode.Reset) Reset(client);
            else if (cut is null) Track(RelayAsync(client));
        }
    }

    private void Track(Task task)
    {
        lock (_gate) _running.Add(task);
        _ = task.ContinueWith(done =>
        {
            lock (_gate) _running.Remove(done);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RelayAsync(Socket client)
    {
        var upstream = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(_target, _stopping.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The target is down: the client sees what it would see connecting to it directly, a closed door.
            Reset(client);
            upstream.Dispose();
            return;
        }

        var link = new Link(client, upstream);
        CutMode? cut;
        lock (_gate)
        {
            // Cut while connecting upstream: this connection is treated as arriving after the cut.
            cut = _disposed ? CutMode.Reset : _cut;
            if (cut is null) _links.Add(link);
            else if (cut == CutMode.BlackHole)
            {
                _held.Add(client);
                _heldConnections++;
            }
        }
        if (cut is not null)
        {
            Reset(upstream);
            if (cut == CutMode.Reset) Reset(client);
            link.Dispose();
            return;
        }

        Interlocked.Increment(ref _forwardedConnections);
        await Task.WhenAll(PumpAsync(client, upstream, link), PumpAsync(upstream, client, link));
        bool ours;
        lock (_gate) ours = _links.Remove(link);
        // A link that is no longer ours was frozen by a cut or by dispose, which close its sockets themselves.
        if (ours)
        {
            if (link.Failed)
            {
                Reset(client);
                Reset(upstream);
            }
            else
            {
                client.Dispose();
                upstream.Dispose();
            }
        }
        link.Dispose();
    }

    /// <summary>Copies one direction; an end of stream is passed on as a half close, a failure resets the whole link.</summary>
    private static async Task PumpAsync(Socket from, Socket to, Link link)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, link.Token);
                if (link.IsFrozen) return;
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                for (var sent = 0; sent < read;)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, link.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Frozen: stop without touching the sockets. Otherwise one side failed: the other must not wait forever.
            link.Fail();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task DatagramLoopAsync()
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(ListenEndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stopping.Token);
                if (!ShouldForward(received.RemoteEndPoint)) continue;
                // Counted before the send: the receiver may read the datagram before this loop runs again.
                Interlocked.Increment(ref _forwardedDatagrams);
                try
                {
                    await _socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, _target, _stopping.Token);
                }
                catch
                {
                    Interlocked.Decrement(ref _forwardedDatagrams);
                    throw;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!_stopping.IsCancellationRequested)
            {
                // An ICMP error from an earlier send (target not listening): datagrams are allowed to be lost.
            }
            catch (SocketException)
            {
                return;
            }
        }
    }

    private bool ShouldForward(EndPoint source)
    {
        lock (_gate)
        {
            if (_cut is not null) return false;
            if (_healMarker is null) return true;
            var isMarker = source.Equals(_healMarker);
            if (!isMarker && Environment.TickCount64 < _healMarkerDeadline) return false; // sent while cut
            _healMarker = null;
            return !isMarker;
        }
    }

    private Socket HealMarkerSocket()
    {
        var socket = new Socket(ListenEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(MarkerTarget().Address, 0));
        return socket;
    }

    private IPEndPoint MarkerTarget() => ListenEndPoint.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, ListenEndPoint.Port)
        : ListenEndPoint.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, ListenEndPoint.Port)
        : ListenEndPoint;

    /// <summary>Closes at once with a reset instead of a graceful close, as a vanished peer would.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed or never connected: disposing is all that is left.
        }
        socket.Dispose();
    }

    /// <summary>One relayed connection: the client's socket, the one to the target, and the pumps' shared fate.</summary>
    private sealed class Link(Socket client, Socket upstream) : IDisposable
    {
        private readonly CancellationTokenSource _pumps = new();
        private volatile bool _frozen;
        private volatile bool _failed;

        public Socket Client { get; } = client;

        public Socket Upstream { get; } = upstream;

        public CancellationToken Token => _pumps.Token;

        public bool IsFrozen => _frozen;

        public bool Failed => _failed;

        /// <summary>From now on a pump forwards nothing, not even what it has already read; <see cref="StopPumps"/> then ends them without closing anything.</summary>
        public void Freeze() => _frozen = true;

        public void Fail()
        {
            if (_frozen) return;
            _failed = true;
            StopPumps();
        }

        public void StopPumps()
        {
            try
            {
                _pumps.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The link already ended.
            }
        }

        public void Dispose() => _pumps.Dispose();
    }
}

/// <summary>Relays cut and healed together: a partition of one node is every relay to and from it.</summary>
public sealed class RelaySet(params IEnumerable<FaultRelay> relays)
{
    public IReadOnlyList<FaultRelay> Relays { get; } = [.. relays];

    /// <summary>Whether every relay in the set is cut.</summary>
    public bool IsCut => Relays.All(r => r.IsCut);

    public void Cut(CutMode mode = CutMode.BlackHole)
    {
        foreach (var relay in Relays) relay.Cut(mode);
    }

    public void Heal()
    {
        foreach (var relay in Relays) relay.Heal();
    }

    public override string ToString() => string.Join("; ", Relays);
}
