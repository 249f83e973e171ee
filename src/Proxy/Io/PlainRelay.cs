using System.Buffers;
using System.Net.Sockets;
using HA.Proxy.Protocol;

namespace HA.Proxy.Io;

/// <summary>
/// A session without TLS once its server is connected: bytes go socket to socket on the session's
/// <see cref="EventLoop"/> thread, level-triggered, one receive and one send per message, no task or
/// buffer per message (the loop's scratch buffer is used; only bytes a full socket buffer did not
/// take are kept, in a pooled array, while reading from the other side pauses). Either side closing
/// or failing ends the session and closes both sockets.
/// </summary>
internal sealed class PlainRelay : IReadiness
{
    private readonly EventLoop _loop;
    private readonly Socket _client;
    private readonly Socket _server;
    private readonly ServerGreeting _greeting;
    private readonly ProxyCounters _counters;
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Pending _toServer;
    private Pending _toClient;
    private long _clientRegistration;
    private long _serverRegistration;
    private uint _clientInterest;
    private uint _serverInterest;
    private bool _over;

    /// <summary>Bytes for one side that its socket did not take yet.</summary>
    private struct Pending
    {
        public byte[]? Bytes;
        public int Offset;
        public int Count;
    }

    public PlainRelay(EventLoop loop, Socket client, Socket server, ServerGreeting greeting, ProxyCounters counters)
    {
        _loop = loop;
        _client = client;
        _server = server;
        _greeting = greeting;
        _counters = counters;
    }

    /// <summary>Completes with why the relay ended once both sockets are closed.</summary>
    public Task<string> Ended => _ended.Task;

    /// <summary>Starts relaying; <paramref name="toServer"/> (the startup packet and anything the client sent after it) goes first.</summary>
    public void Start(ReadOnlyMemory<byte> toServer) => _loop.Post(() =>
    {
        if (_over) return;
        try
        {
            _clientRegistration = _loop.Add(_client, 0, this);
            _serverRegistration = _loop.Add(_server, Native.EpollIn, this);
            _serverInterest = Native.EpollIn;
            Keep(ref _toServer, toServer.Span);
            Flush(ref _toServer, _server);
            UpdateInterest();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            End(e.Message);
        }
    });

    /// <summary>Ends the relay from any thread.</summary>
    public void Close(string reason) => _loop.Post(() => End(reason));

    public void OnReady(long registration, uint events)
    {
        if (_over) return;
        try
        {
            var fromClient = registration == _clientRegistration;
            if (!fromClient && registration != _serverRegistration) return;
            // An error or hang-up is reported whatever the interest: the call that meets it ends the relay.
            var broken = (events & (Native.EpollErr | Native.EpollHup)) != 0;
            if ((events & Native.EpollOut) != 0 || broken)
            {
                if (fromClient) Flush(ref _toClient, _client);
                else Flush(ref _toServer, _server);
            }
            if (((events & Native.EpollIn) != 0 || broken) && !_over)
            {
                var mayRead = fromClient ? _toServer.Bytes is null : _toClient.Bytes is null;
                if (mayRead && fromClient) ClientToServer();
                else if (mayRead) ServerToClient();
                else if (broken) End($"the {(fromClient ? "client" : "server")} connection broke");
            }
            if (!_over) UpdateInterest();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            End(e.Message);
        }
    }

    private void ClientToServer()
    {
        var buffer = _loop.Scratch;
        var received = Native.Receive(_client, buffer);
        if (received < 0) return;
        if (received == 0)
        {
            End("the client closed the connection");
            return;
        }
        _counters.FromClient(received);
        Forward(buffer.AsSpan(0, received), _server, ref _toServer);
    }

    private void ServerToClient()
    {
        var buffer = _loop.Scratch;
        var received = Native.Receive(_server, buffer);
        if (received < 0) return;
        if (received == 0)
        {
            End("the server closed the connection");
            return;
        }
        ReadOnlySpan<byte> bytes = buffer.AsSpan(0, received);
        if (!_greeting.Ready)
        {
            var rewritten = _loop.Rewritten;
            bytes = rewritten.AsSpan(0, _greeting.Rewrite(bytes, rewritten));
        }
        _counters.ToClient(bytes.Length);
        Forward(bytes, _client, ref _toClient);
    }

    private static void Forward(ReadOnlySpan<byte> bytes, Socket to, ref Pending pending)
    {
        var sent = bytes.IsEmpty ? 0 : Native.SendSome(to, bytes);
        if (sent < bytes.Length) Keep(ref pending, bytes[sent..]);
    }

    private static void Keep(ref Pending pending, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        var kept = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(kept);
        pending = new Pending { Bytes = kept, Offset = 0, Count = bytes.Length };
    }

    private static void Flush(ref Pending pending, Socket to)
    {
        if (pending.Bytes is not { } bytes) return;
        var sent = Native.SendSome(to, bytes.AsSpan(pending.Offset, pending.Count));
        pending.Offset += sent;
        pending.Count -= sent;
        if (pending.Count > 0) return;
        ArrayPool<byte>.Shared.Return(bytes);
        pending = default;
    }

    /// <summary>Read a side only while the other takes everything; watch a side for room while it holds bytes.</summary>
    private void UpdateInterest()
    {
        var client = (_toServer.Bytes is null ? Native.EpollIn : 0) | (_toClient.Bytes is null ? 0 : Native.EpollOut);
        var server = (_toClient.Bytes is null ? Native.EpollIn : 0) | (_toServer.Bytes is null ? 0 : Native.EpollOut);
        if (client != _clientInterest)
        {
            _loop.Modify(_client, _clientRegistration, client);
            _clientInterest = client;
        }
        if (server != _serverInterest)
        {
            _loop.Modify(_server, _serverRegistration, server);
            _serverInterest = server;
        }
    }

    private void End(string reason)
    {
        if (_over) return;
        _over = true;
        foreach (var (socket, registration) in new[] { (_client, _clientRegistration), (_server, _serverRegistration) })
        {
            if (registration != 0) _loop.Remove(socket, registration);
            try { socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            socket.Dispose();
        }
        foreach (var pending in new[] { _toServer, _toClient })
        {
            if (pending.Bytes is { } bytes) ArrayPool<byte>.Shared.Return(bytes);
        }
        _toServer = _toClient = default;
        _ended.TrySetResult(reason);
    }
}
