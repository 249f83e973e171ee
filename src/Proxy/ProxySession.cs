using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using HA.Core.State;
using HA.Proxy.Protocol;
using HA.Proxy.Routing;
using Microsoft.Extensions.Logging;

namespace HA.Proxy;

/// <summary>
/// One client in session mode: its first packet is read under strict bounds, a server is chosen from
/// the routing table of that moment, and bytes are relayed both ways until either side closes or the
/// proxy closes the session (its server stopped being what the port promises).
/// </summary>
internal sealed class ProxySession(Socket client, ProxyPort port, ProxyServer server)
{
    /// <summary>Pipe reads ask for this much; the relay consumes all it reads, so a session holds about this much per direction.</summary>
    private const int ReadSize = 16 * 1024;

    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: ReadSize, minimumReadSize: 1024, leaveOpen: true);

    private readonly CancellationTokenSource _closing = new();
    private Stream _clientStream = Stream.Null;
    private PipeReader _clientReader = null!;
    private Socket? _backend;
    private string? _closedBecause;

    public ProxyPort Port => port;

    /// <summary>The server this session is relayed to, once connected.</summary>
    public RouteEndpoint? Backend { get; private set; }

    /// <summary>Closes the session now (both sockets); the reason is logged once.</summary>
    public void Close(string reason)
    {
        if (Interlocked.CompareExchange(ref _closedBecause, reason, null) is not null) return;
        server.Logger.LogInformation("proxy: closing a {Port}-port session to {Node}: {Reason}", port, Backend?.Node, reason);
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        Drop(client);
        if (_backend is { } backend) Drop(backend);
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closing.Token);
        var token = linked.Token;
        var network = new NetworkStream(client, ownsSocket: true);
        _clientStream = network;
        _clientReader = PipeReader.Create(network, ReaderOptions);
        try
        {
            var opening = await ReadOpeningAsync(token).ConfigureAwait(false);
            if (opening is null) return;
            if (opening.Kind == OpeningKind.CancelRequest)
            {
                await ForwardCancelAsync(opening, token).ConfigureAwait(false);
                return;
            }
            var choice = server.Router.Choose(port, server.Routing.Current);
            if (choice.Endpoint is not { } endpoint)
            {
                await RefuseAsync(_clientStream, choice.SqlState, choice.Refusal, token).ConfigureAwait(false);
                return;
            }
            var backend = await ConnectAsync(endpoint, token).ConfigureAwait(false);
            if (backend is null)
            {
                var role = port == ProxyPort.Primary || server.Routing.Current?.Primary == endpoint ? "primary" : "replica";
                await RefuseAsync(_clientStream, SqlStates.ConnectionFailure, $"pgha proxy cannot reach the {role} {endpoint.Node} at {endpoint.Host}:{endpoint.Port}; try again shortly", token).ConfigureAwait(false);
                return;
            }
            _backend = backend;
            Backend = endpoint;
            server.Counters.ServerConnected(endpoint.Node);
            try
            {
                // The table may have changed while connecting: a server that just stopped being primary gets no new client.
                if (server.Routing.Current is { } now && !server.Router.MayStay(port, endpoint, now))
                {
                    await RefuseAsync(_clientStream, SqlStates.CannotConnectNow, $"{endpoint.Node} stopped being the {(port == ProxyPort.Primary ? "primary" : "replica")} while connecting; try again", token).ConfigureAwait(false);
                    return;
                }
                if (_closedBecause is not null) return;
                await RelayAsync(opening, _clientReader, _clientStream, backend, endpoint, token).ConfigureAwait(false);
            }
            finally
            {
                server.Counters.ServerReleased(endpoint.Node);
            }
        }
        catch (ProtocolViolation violation)
        {
            server.Counters.Error();
            server.Logger.LogInformation("proxy: refused a client on the {Port} port: {Violation}", port, violation.Message);
            await RefuseAsync(_clientStream, violation.SqlState, violation.Message, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client or the server went away, or the session was closed: nothing more to say on this socket.
        }
        finally
        {
            await _clientReader.CompleteAsync().ConfigureAwait(false);
            await _clientStream.DisposeAsync().ConfigureAwait(false);
            await network.DisposeAsync().ConfigureAwait(false);
            if (_backend is { } backend) Drop(backend);
            Drop(client);
            _closing.Dispose();
        }
    }

    /// <summary>
    /// SSLRequest is answered 'S' and TLS negotiated when the proxy has a certificate, else 'N';
    /// GSSENCRequest 'N' (each once). Returns the startup or cancel, or null if the client left.
    /// </summary>
    private async Task<ClientOpening?> ReadOpeningAsync(CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(server.Options.StartupTimeout);
        bool ssl = false, gss = false;
        try
        {
            while (true)
            {
                var result = await _clientReader.ReadAsync(deadline.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (StartupFraming.TryRead(buffer, out var opening, out var consumed))
                {
                    var rest = buffer.Slice(consumed).Length;
                    _clientReader.AdvanceTo(consumed);
                    switch (opening!.Kind)
                    {
                        case OpeningKind.SslRequest when !ssl && !gss:
                            ssl = true;
                            if (server.Options.Certificate is { } certificate)
                            {
                                // Bytes sent before the handshake would be taken as if they came encrypted (CVE-2021-23214): refused.
                                if (rest > 0) throw new ProtocolViolation($"{rest} bytes received after the SSLRequest before the TLS handshake");
                                await _clientStream.WriteAsync("S"u8.ToArray(), deadline.Token).ConfigureAwait(false);
                                await StartTlsAsync(certificate, deadline.Token).ConfigureAwait(false);
                            }
                            else
                            {
                                await _clientStream.WriteAsync("N"u8.ToArray(), deadline.Token).ConfigureAwait(false);
                            }
                            continue;
                        case OpeningKind.GssEncRequest when !gss && !ssl:
                            gss = true;
                            await _clientStream.WriteAsync("N"u8.ToArray(), deadline.Token).ConfigureAwait(false);
                            continue;
                        case OpeningKind.SslRequest or OpeningKind.GssEncRequest:
                            throw new ProtocolViolation($"{opening.Kind} sent again before the startup packet");
                        default:
                            return opening;
                    }
                }
                if (result.IsCompleted) return null; // closed before a whole packet: nobody left to answer
                _clientReader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            throw new ProtocolViolation($"incomplete startup packet: none received within {server.Options.StartupTimeout.TotalSeconds:0.#} s");
        }
    }

    private async Task StartTlsAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, CancellationToken token)
    {
        await _clientReader.CompleteAsync().ConfigureAwait(false);
        var tls = new SslStream(_clientStream, leaveInnerStreamOpen: true);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, token).ConfigureAwait(false);
        }
        catch (AuthenticationException e)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            server.Counters.Error();
            throw new IOException($"TLS handshake failed: {e.Message}", e);
        }
        _clientStream = tls;
        _clientReader = PipeReader.Create(tls, ReaderOptions);
    }

    private async Task<Socket?> ConnectAsync(RouteEndpoint endpoint, CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(server.Options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, deadline.Token).ConfigureAwait(false);
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !token.IsCancellationRequested)
        {
            server.Counters.Error();
            server.Logger.LogWarning("proxy: cannot reach {Node} at {Host}:{Port}: {Error}", endpoint.Node, endpoint.Host, endpoint.Port, e is OperationCanceledException ? "timed out" : e.Message);
            socket.Dispose();
            return null;
        }
    }

    private async Task RelayAsync(ClientOpening startup, PipeReader clientReader, Stream clientStream, Socket backend, RouteEndpoint endpoint, CancellationToken token)
    {
        await using var backendStream = new NetworkStream(backend, ownsSocket: false);
        var backendReader = PipeReader.Create(backendStream, new StreamPipeReaderOptions(bufferSize: ReadSize, minimumReadSize: 1024, leaveOpen: true));
        // Without TLS toward the client both ends are plain sockets: once framing is over, bytes go
        // socket to socket with no stream or pipe in between (the hot path: one receive, one send).
        var plain = clientStream is NetworkStream;
        (int, int)? issued = null;
        try
        {
            await backend.SendAsync(startup.Packet, SocketFlags.None, token).ConfigureAwait(false);
            var up = plain
                ? DrainThenRelayAsync(clientReader, client, backend, server.Counters.FromClient)
                : CopyAsync(clientReader, backendStream, server.Counters.FromClient, token);
            var down = ServerToClientAsync(backendReader, backend, clientStream, plain, endpoint, key => issued = key, token);
            var first = await Task.WhenAny(up, down).ConfigureAwait(false);
            // Either side closing ends the session: the other direction's read is ended by dropping both sockets.
            Drop(backend);
            Drop(client);
            await Task.WhenAll(Quiet(up), Quiet(down)).ConfigureAwait(false);
            await first.ConfigureAwait(false);
        }
        finally
        {
            if (issued is { } key) server.CancelKeys.Forget(key);
            await backendReader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Server to client: messages are framed until the first ReadyForQuery so the server's
    /// BackendKeyData can be replaced by the proxy's own; after that, bytes are copied as they come.
    /// </summary>
    private async Task ServerToClientAsync(PipeReader reader, Socket backend, Stream toClient, bool plain, RouteEndpoint endpoint, Action<(int, int)> issued, CancellationToken token)
    {
        long passing = 0; // bytes of the current message still to pass through unchanged
        var readyAfterPassing = false;
        var ready = false;
        while (!ready)
        {
            var result = await reader.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            while (true)
            {
                if (passing > 0)
                {
                    var take = Math.Min(passing, buffer.Length);
                    if (take == 0) break;
                    await WriteAsync(toClient, buffer.Slice(0, take), token).ConfigureAwait(false);
                    buffer = buffer.Slice(take);
                    passing -= take;
                    if (passing == 0 && readyAfterPassing) { ready = true; break; }
                    continue;
                }
                if (buffer.Length < 5) break;
                var (type, length) = Header(buffer);
                if (length < 4) throw new IOException($"server {endpoint.Node} sent a message '{(char)type}' with length {length}");
                if (type == ProtocolCodes.BackendKeyData)
                {
                    if (length != 12) throw new IOException($"server {endpoint.Node} sent a BackendKeyData of length {length} (protocol 3.0 has 12)");
                    if (buffer.Length < 13) break;
                    var (processId, secretKey) = KeyData(buffer);
                    var target = new CancelTarget(endpoint, processId, secretKey);
                    var key = server.CancelKeys.Issue(target);
                    issued(key);
                    var ours = BackendMessages.KeyData(key.ProcessId, key.SecretKey);
                    await toClient.WriteAsync(ours, token).ConfigureAwait(false);
                    server.Counters.ToClient(ours.Length);
                    buffer = buffer.Slice(13);
                    continue;
                }
                passing = length + 1L;
                readyAfterPassing = type == ProtocolCodes.ReadyForQuery;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted && !ready) return;
        }
        if (plain) await DrainThenRelayAsync(reader, backend, client, server.Counters.ToClient).ConfigureAwait(false);
        else await CopyAsync(reader, toClient, server.Counters.ToClient, token).ConfigureAwait(false);
    }

    private static (byte Type, int Length) Header(ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(header);
        return (header[0], BinaryPrimitives.ReadInt32BigEndian(header[1..]));
    }

    private static (int ProcessId, int SecretKey) KeyData(ReadOnlySequence<byte> buffer)
    {
        Span<byte> message = stackalloc byte[13];
        buffer.Slice(0, 13).CopyTo(message);
        return (BinaryPrimitives.ReadInt32BigEndian(message[5..]), BinaryPrimitives.ReadInt32BigEndian(message[9..]));
    }

    private static async Task CopyAsync(PipeReader reader, Stream to, Action<long> count, CancellationToken token)
    {
        while (true)
        {
            var result = await reader.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            foreach (var segment in buffer) await to.WriteAsync(segment, token).ConfigureAwait(false);
            count(buffer.Length);
            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted) return;
        }
    }

    /// <summary>
    /// What <paramref name="reader"/> still holds goes first, then bytes are relayed socket to socket
    /// through one pooled buffer until <paramref name="from"/> closes. No cancellation token: the
    /// session ends these reads by dropping both sockets, and a token would cost a registration per
    /// pending receive.
    /// </summary>
    private static async Task DrainThenRelayAsync(PipeReader reader, Socket from, Socket to, Action<long> count)
    {
        if (reader.TryRead(out var held))
        {
            foreach (var segment in held.Buffer) await to.SendAsync(segment, SocketFlags.None).ConfigureAwait(false);
            count(held.Buffer.Length);
            reader.AdvanceTo(held.Buffer.End);
            if (held.IsCompleted) return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        try
        {
            while (true)
            {
                var received = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (received == 0) return;
                await to.SendAsync(buffer.AsMemory(0, received), SocketFlags.None).ConfigureAwait(false);
                count(received);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task WriteAsync(Stream to, ReadOnlySequence<byte> bytes, CancellationToken token)
    {
        foreach (var segment in bytes) await to.WriteAsync(segment, token).ConfigureAwait(false);
        server.Counters.ToClient(bytes.Length);
    }

    /// <summary>A cancel carrying a key this proxy issued goes to that client's server with the server's own key; any other is dropped, as PostgreSQL does.</summary>
    private async Task ForwardCancelAsync(ClientOpening cancel, CancellationToken token)
    {
        if (server.CancelKeys.Find(cancel.ProcessId, cancel.SecretKey) is not { } target)
        {
            server.Logger.LogInformation("proxy: a CancelRequest with a key this proxy did not issue was dropped");
            return;
        }
        using var backend = await ConnectAsync(target.Server, token).ConfigureAwait(false);
        if (backend is null) return;
        await backend.SendAsync(BackendMessages.Cancel(target.ProcessId, target.SecretKey), SocketFlags.None, token).ConfigureAwait(false);
        server.Counters.CancelForwarded();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(server.Options.ConnectTimeout);
        // The server closes the connection once it has taken the request; wait for that, bounded.
        try { await backend.ReceiveAsync(new byte[1], SocketFlags.None, deadline.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (!token.IsCancellationRequested) { }
    }

    private async Task RefuseAsync(Stream client, string sqlState, string message, CancellationToken token)
    {
        if (sqlState != SqlStates.ProtocolViolation) server.Counters.Error();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(TimeSpan.FromSeconds(5));
            await client.WriteAsync(BackendMessages.Error(sqlState, message), deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone or does not read: it cannot be told.
        }
    }

    private static async Task Quiet(Task task)
    {
        try { await task.ConfigureAwait(false); }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException) { }
    }

    private static void Drop(Socket socket)
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        socket.Dispose();
    }
}
