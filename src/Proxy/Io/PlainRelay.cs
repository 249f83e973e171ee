using System.Buffers;
using System.Net.Sockets;
using HA.Proxy.Protocol;

namespace HA.Proxy.Io;

/// <summary>
/// A session without TLS once its server is connected: bytes go socket to socket on the session's
/// <see cref="EventLoop"/> thread, level-triggered, one receive and one send per message, no task or
/// buffer per message (the loop's scratch buffer is used; only bytes a full socket buffer did not
/// take are kept, in a pooled array, while reading from the other side pauses). Either side closing
/// or failing ends the session and closes both sockets; what a side sent before it broke off is
/// still passed on first (a server's FATAL ErrorResponse before it exits reaches a slow client).
/// </summary>
/// <remarks>
/// Everything runs on the loop thread, which alone closes the sockets (<see cref="Close"/> posts):
/// the relay uses their descriptors directly.
/// </remarks>
internal sealed class PlainRelay : IReadiness
{
    private readonly EventLoop _loop;
    private readonly ServerGreeting _greeting;
    private readonly ProxyCounters _counters;
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Side _client;
    private Side _server;
    private bool _over;

    /// <summary>One connection of the relay and the bytes for it that its socket did not take yet.</summary>
    private struct Side(Socket socket, string name)
    {
        public readonly Socket Socket = socket;
        public readonly int Fd = (int)socket.SafeHandle.DangerousGetHandle();
        public readonly string Name = name;
        public long Registration;
        public uint Interest;
        /// <summary>It reported a hang-up or an error: it is no longer watched, only read until its end.</summary>
        public bool Gone;
        public byte[]? Pending;
        public int PendingOffset;
        public int PendingCount;
    }

    public PlainRelay(EventLoop loop, Socket client, Socket server, ServerGreeting greeting, ProxyCounters counters)
    {
        _loop = loop;
        _client = new Side(client, "client");
        _server = new Side(server, "server");
        _greeting = greeting;
        _counters = counters;
    }

    /// <summary>Completes with why the relay ended once both sockets are closed.</summary>
    public Task<string> Ended => _ended.Task;

    /// <summary>Set when the relay ended on an exception that is not a connection's end (a bug: logged by the session).</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Starts relaying; <paramref name="toServer"/> (the startup packet and anything the client sent after it) goes first.</summary>
    public void Start(ReadOnlyMemory<byte> toServer) => _loop.Post(() =>
    {
        if (_over) return;
        try
        {
            _client.Registration = _loop.Add(_client.Socket, 0, this);
            _server.Registration = _loop.Add(_server.Socket, 0, this);
            Keep(ref _server, toServer.Span);
            Flush(ref _server);
            UpdateInterest();
        }
        catch (Exception e)
        {
            Fail(e);
        }
    });

    /// <summary>Ends the relay from any thread.</summary>
    public void Close(string reason) => _loop.Post(() => End(reason));

    public void OnReady(long registration, uint events)
    {
        if (_over) return;
        try
        {
            var fromClient = registration == _client.Registration;
            if (!fromClient && registration != _server.Registration) return;
            ref var side = ref fromClient ? ref _client : ref _server;
            if ((events & (Native.EpollErr | Native.EpollHup)) != 0)
            {
                // Reported whatever the interest, so it is taken off the loop at once.
                _loop.Remove(side.Socket, side.Registration);
                side.Registration = 0;
                side.Gone = true;
            }
            else
            {
                if ((events & Native.EpollOut) != 0) Flush(ref side);
                if ((events & Native.EpollIn) != 0 && !_over && Other(fromClient) is { Pending: null, Gone: false }) Pass(fromClient);
            }
            DrainGone();
            if (!_over) UpdateInterest();
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private ref Side Other(bool client) => ref client ? ref _server : ref _client;

    /// <summary>Receives once from one side and sends it to the other; false when that side has ended.</summary>
    private bool Pass(bool fromClient)
    {
        ref var from = ref fromClient ? ref _client : ref _server;
        ref var to = ref Other(fromClient);
        var buffer = _loop.Scratch;
        var received = Native.Receive(from.Fd, buffer);
        if (received <= 0)
        {
            // Nothing there although it hung up: it has nothing more to say either.
            if (received == 0 || from.Gone) End($"the {from.Name} closed the connection");
            return false;
        }
        ReadOnlySpan<byte> bytes = buffer.AsSpan(0, received);
        if (fromClient)
        {
            _counters.FromClient(received);
        }
        else
        {
            bytes = _greeting.Forward(buffer.AsMemory(0, received), _loop.Rewritten).Span;
            _counters.ToClient(bytes.Length);
        }
        if (to.Gone)
        {
            End($"the {to.Name} connection broke");
            return false;
        }
        var sent = bytes.IsEmpty ? 0 : Native.SendSome(to.Fd, bytes);
        Keep(ref to, bytes[sent..]);
        return true;
    }

    /// <summary>A side that hung up is read to its end, as fast as the other side takes it.</summary>
    private void DrainGone()
    {
        while (!_over && _server.Gone && _client.Pending is null && Pass(fromClient: false)) { }
        while (!_over && _client.Gone && _server.Pending is null && Pass(fromClient: true)) { }
    }

    private static void Keep(ref Side side, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        var kept = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(kept);
        (side.Pending, side.PendingOffset, side.PendingCount) = (kept, 0, bytes.Length);
    }

    private static void Flush(ref Side side)
    {
        if (side.Pending is not { } bytes) return;
        var sent = Native.SendSome(side.Fd, bytes.AsSpan(side.PendingOffset, side.PendingCount));
        side.PendingOffset += sent;
        side.PendingCount -= sent;
        if (side.PendingCount > 0) return;
        ArrayPool<byte>.Shared.Return(bytes);
        side.Pending = null;
    }

    /// <summary>Read a side only while the other takes everything (and is still there); watch a side for room while it holds bytes.</summary>
    private void UpdateInterest()
    {
        Watch(ref _client, (_server.Pending is null && !_server.Gone ? Native.EpollIn : 0) | (_client.Pending is null ? 0 : Native.EpollOut));
        Watch(ref _server, (_client.Pending is null && !_client.Gone ? Native.EpollIn : 0) | (_server.Pending is null ? 0 : Native.EpollOut));
    }

    private void Watch(ref Side side, uint interest)
    {
        if (side.Registration == 0 || interest == side.Interest) return;
        _loop.Modify(side.Socket, side.Registration, interest);
        side.Interest = interest;
    }

    private void Fail(Exception e)
    {
        // A connection's end shows up as one of these; anything else is a bug, kept for the session to log.
        if (e is not (IOException or ObjectDisposedException or SocketException)) Failure = e;
        End(e.Message);
    }

    private void End(string reason)
    {
        if (_over) return;
        _over = true;
        foreach (var side in new[] { _client, _server })
        {
            if (side.Registration != 0) _loop.Remove(side.Socket, side.Registration);
            Descriptor.Close(side.Socket);
            if (side.Pending is { } bytes) ArrayPool<byte>.Shared.Return(bytes);
        }
        _client.Pending = _server.Pending = null;
        _ended.TrySetResult(reason);
    }
}
