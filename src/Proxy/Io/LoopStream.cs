using System.Net;
using System.Net.Sockets;

namespace HA.Proxy.Io;

/// <summary>
/// A non-blocking socket as a stream whose waits are done by an <see cref="EventLoop"/> (one-shot
/// readiness), never by .NET's socket engine: a socket .NET has waited on stays in .NET's epoll set
/// for good, and a relay on the loop would then wake two threads per message. Used while a session
/// is being set up (startup packet, TLS, connecting) and for TLS sessions; a plain session's sockets
/// are then handed to a <see cref="PlainRelay"/> with <see cref="Detach"/>.
/// </summary>
internal sealed class LoopStream : Stream, IReadiness
{
    private readonly Lock _gate = new();
    private Socket? _socket;
    private long _registration;
    private TaskCompletionSource? _reading;
    private TaskCompletionSource? _writing;

    public LoopStream(Socket socket, EventLoop loop)
    {
        socket.Blocking = false;
        _socket = socket;
        Loop = loop;
    }

    public EventLoop Loop { get; }

    /// <summary>Connects without blocking a thread; a refused or timed-out connect throws <see cref="SocketException"/> or <see cref="OperationCanceledException"/>.</summary>
    public static async Task<LoopStream> ConnectAsync(IPEndPoint endpoint, EventLoop loop, CancellationToken token)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var stream = new LoopStream(socket, loop);
        try
        {
            try { socket.Connect(endpoint); }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress) { }
            await stream.WaitAsync(Native.EpollOut, token).ConfigureAwait(false);
            var error = (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            if (error != 0) throw new SocketException(error);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int received;
            using (var descriptor = new Descriptor(Socket)) received = Native.Receive(descriptor.Fd, buffer.Span);
            if (received >= 0) return received;
            await WaitAsync(Native.EpollIn, cancellationToken).ConfigureAwait(false);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int sent;
            using (var descriptor = new Descriptor(Socket)) sent = Native.SendSome(descriptor.Fd, buffer.Span);
            if (sent > 0) buffer = buffer[sent..];
            else await WaitAsync(Native.EpollOut, cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the proxy's sockets are read asynchronously");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the proxy's sockets are written asynchronously");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Hands the socket over (no wait may be pending): the stream no longer watches or owns it.</summary>
    public Socket Detach()
    {
        lock (_gate)
        {
            var socket = Socket;
            if (_reading is not null || _writing is not null) throw new InvalidOperationException("a socket is handed over while a wait on it is pending");
            Unwatch(socket);
            _socket = null;
            return socket;
        }
    }

    private Socket Socket => _socket ?? throw new ObjectDisposedException(nameof(LoopStream));

    private async Task WaitAsync(uint interest, CancellationToken token)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var socket = Socket;
            if (interest == Native.EpollIn)
            {
                if (_reading is not null) throw new InvalidOperationException("two reads at once on one proxy socket");
                _reading = waiter;
            }
            else
            {
                if (_writing is not null) throw new InvalidOperationException("two writes at once on one proxy socket");
                _writing = waiter;
            }
            try { Arm(socket); }
            catch
            {
                // epoll_ctl refused (out of memory or watches): no wait is left behind.
                Forget(waiter);
                throw;
            }
        }
        await using var cancelling = token.Register(() =>
        {
            lock (_gate) Forget(waiter);
            waiter.TrySetCanceled(token);
        });
        await waiter.Task.ConfigureAwait(false);
    }

    /// <summary>Drops <paramref name="waiter"/> if it is still pending (called holding the gate).</summary>
    private void Forget(TaskCompletionSource waiter)
    {
        if (_reading == waiter) _reading = null;
        if (_writing == waiter) _writing = null;
    }

    /// <summary>Stops watching the socket, if it was (called holding the gate).</summary>
    private void Unwatch(Socket socket)
    {
        if (_registration != 0) Loop.Remove(socket, _registration);
        _registration = 0;
    }

    /// <summary>Asks for one event covering every pending wait (called holding the gate).</summary>
    private void Arm(Socket socket)
    {
        var events = (_reading is null ? 0 : Native.EpollIn) | (_writing is null ? 0 : Native.EpollOut) | Native.EpollOneShot;
        if (_registration == 0) _registration = Loop.Add(socket, events, this);
        else Loop.Modify(socket, _registration, events);
    }

    public void OnReady(long registration, uint events)
    {
        TaskCompletionSource? read = null, write = null;
        lock (_gate)
        {
            if (registration != _registration || _socket is null) return;
            var broken = (events & (Native.EpollErr | Native.EpollHup)) != 0;
            if (broken || (events & Native.EpollIn) != 0) (read, _reading) = (_reading, null);
            if (broken || (events & Native.EpollOut) != 0) (write, _writing) = (_writing, null);
            if (_reading is not null || _writing is not null)
            {
                try { Arm(_socket); }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    (read, _reading) = (read ?? _reading, null);
                    (write, _writing) = (write ?? _writing, null);
                }
            }
        }
        // The waiter retries its call and meets the error itself.
        read?.TrySetResult();
        write?.TrySetResult();
    }

    protected override void Dispose(bool disposing)
    {
        TaskCompletionSource? read, write;
        Socket? socket;
        lock (_gate)
        {
            socket = _socket;
            _socket = null;
            (read, _reading) = (_reading, null);
            (write, _writing) = (_writing, null);
            if (socket is not null) Unwatch(socket);
        }
        var closed = new ObjectDisposedException(nameof(LoopStream));
        read?.TrySetException(closed);
        write?.TrySetException(closed);
        if (socket is not null) Descriptor.Close(socket);
        base.Dispose(disposing);
    }
}
