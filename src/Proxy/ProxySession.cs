using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using HA.Core.State;
using HA.Proxy.Io;
using HA.Proxy.Protocol;
using HA.Proxy.Routing;
using Microsoft.Extensions.Logging;

namespace HA.Proxy;

/// <summary>
/// One client in session mode: its first packet is read under strict bounds, a server is chosen from
/// the routing table of that moment, and bytes are relayed both ways until either side closes or the
/// proxy closes the session (its server stopped being what the port promises). Without TLS the relay
/// runs on the session's event loop (<see cref="PlainRelay"/>); with TLS it is two tasks over streams.
/// </summary>
internal sealed class ProxySession(Socket client, ProxyPort port, ProxyServer server)
{
    /// <summary>Reads while a session is set up and in TLS sessions ask for this much (a plain relay reads into its loop's buffer).</summary>
    private const int ReadSize = 16 * 1024;

    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: ReadSize, minimumReadSize: 1024, leaveOpen: true);

    private readonly EventLoop _loop = EventLoop.Next();
    private readonly CancellationTokenSource _closing = new();
    private LoopStream? _clientSocket;
    private Stream _clientStream = Stream.Null;
    private PipeReader _clientReader = null!;
    private LoopStream? _backend;
    private PlainRelay? _relay;
    private string? _closedBecause;
    private (int, int)? _issued;

    public ProxyPort Port => port;

    /// <summary>The server this session is relayed to, once connected.</summary>
    public RouteEndpoint? Backend { get; private set; }

    /// <summary>Closes the session now (both sockets); the reason is logged once.</summary>
    public void Close(string reason)
    {
        if (Interlocked.CompareExchange(ref _closedBecause, reason, null) is not null) return;
        server.Logger.LogInformation("proxy: closing a {Port}-port session to {Node}: {Reason}", port, Backend?.Node, reason);
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        if (Volatile.Read(ref _relay) is { } relay)
        {
            relay.Close(reason);
            return;
        }
        _clientSocket?.Dispose();
        _backend?.Dispose();
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closing.Token);
        var token = linked.Token;
        var clientSocket = new LoopStream(client, _loop);
        _clientSocket = clientSocket;
        _clientStream = clientSocket;
        _clientReader = PipeReader.Create(clientSocket, ReaderOptions);
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
                await RelayAsync(opening, backend, endpoint, token).ConfigureAwait(false);
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
            if (_issued is { } key) server.CancelKeys.Forget(key);
            await _clientReader.CompleteAsync().ConfigureAwait(false);
            await _clientStream.DisposeAsync().ConfigureAwait(false);
            await clientSocket.DisposeAsync().ConfigureAwait(false);
            if (_backend is { } backend) await backend.DisposeAsync().ConfigureAwait(false);
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

    private async Task<LoopStream?> ConnectAsync(RouteEndpoint endpoint, CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(server.Options.ConnectTimeout);
        try
        {
            var addresses = IPAddress.TryParse(endpoint.Host, out var address) ? [address] : await Dns.GetHostAddressesAsync(endpoint.Host, deadline.Token).ConfigureAwait(false);
            SocketException? refused = null;
            foreach (var candidate in addresses)
            {
                try { return await LoopStream.ConnectAsync(new IPEndPoint(candidate, endpoint.Port), _loop, deadline.Token).ConfigureAwait(false); }
                catch (SocketException e) { refused = e; }
            }
            throw refused ?? new SocketException((int)SocketError.HostNotFound);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !token.IsCancellationRequested)
        {
            server.Counters.Error();
            server.Logger.LogWarning("proxy: cannot reach {Node} at {Host}:{Port}: {Error}", endpoint.Node, endpoint.Host, endpoint.Port, e is OperationCanceledException ? "timed out" : e.Message);
            return null;
        }
    }

    private async Task RelayAsync(ClientOpening startup, LoopStream backend, RouteEndpoint endpoint, CancellationToken token)
    {
        var greeting = new ServerGreeting(endpoint.Node, (processId, secretKey) =>
        {
            var key = server.CancelKeys.Issue(new CancelTarget(endpoint, processId, secretKey));
            _issued = key;
            return key;
        });
        if (_clientStream is LoopStream clientSocket)
        {
            // No TLS: from here on bytes go socket to socket on the loop. What the client sent after
            // its startup packet (it may not wait for the answer) follows the packet.
            var toServer = startup.Packet.ToArray();
            if (_clientReader.TryRead(out var held))
            {
                toServer = [.. toServer, .. held.Buffer.ToArray()];
                _clientReader.AdvanceTo(held.Buffer.End);
            }
            var clientEnd = clientSocket.Detach();
            Socket serverEnd;
            try { serverEnd = backend.Detach(); }
            catch
            {
                clientEnd.Dispose();
                throw;
            }
            var relay = new PlainRelay(_loop, clientEnd, serverEnd, greeting, server.Counters);
            Interlocked.Exchange(ref _relay, relay);
            if (_closedBecause is { } reason) relay.Close(reason);
            relay.Start(toServer);
            var ended = await relay.Ended.ConfigureAwait(false);
            if (relay.Failure is { } failure) server.Logger.LogWarning(failure, "proxy: a {Port}-port session to {Node} failed", port, endpoint.Node);
            else server.Logger.LogDebug("proxy: a {Port}-port session to {Node} ended: {Reason}", port, endpoint.Node, ended);
            return;
        }
        await backend.WriteAsync(startup.Packet, token).ConfigureAwait(false);
        var up = CopyAsync(_clientReader, backend, server.Counters.FromClient, token);
        var down = ServerToClientAsync(backend, _clientStream, greeting, token);
        var first = await Task.WhenAny(up, down).ConfigureAwait(false);
        // Either side closing ends the session: the other direction's wait is ended by closing both sockets.
        await backend.DisposeAsync().ConfigureAwait(false);
        _clientSocket?.Dispose();
        await Task.WhenAll(Quiet(up), Quiet(down)).ConfigureAwait(false);
        await first.ConfigureAwait(false);
    }

    /// <summary>Server to client with TLS toward the client: the greeting swaps the key, then bytes pass as they come.</summary>
    private async Task ServerToClientAsync(LoopStream from, Stream toClient, ServerGreeting greeting, CancellationToken token)
    {
        var received = ArrayPool<byte>.Shared.Rent(ReadSize);
        var rewritten = ArrayPool<byte>.Shared.Rent(ReadSize + ServerGreeting.MaxGrowth);
        try
        {
            while (true)
            {
                var count = await from.ReadAsync(received.AsMemory(0, ReadSize), token).ConfigureAwait(false);
                if (count == 0) return;
                var bytes = greeting.Forward(received.AsMemory(0, count), rewritten);
                await toClient.WriteAsync(bytes, token).ConfigureAwait(false);
                server.Counters.ToClient(bytes.Length);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(received);
            ArrayPool<byte>.Shared.Return(rewritten);
        }
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

    /// <summary>A cancel carrying a key this proxy issued goes to that client's server with the server's own key; any other is dropped, as PostgreSQL does.</summary>
    private async Task ForwardCancelAsync(ClientOpening cancel, CancellationToken token)
    {
        if (server.CancelKeys.Find(cancel.ProcessId, cancel.SecretKey) is not { } target)
        {
            server.Logger.LogInformation("proxy: a CancelRequest with a key this proxy did not issue was dropped");
            return;
        }
        await using var backend = await ConnectAsync(target.Server, token).ConfigureAwait(false);
        if (backend is null) return;
        await backend.WriteAsync(BackendMessages.Cancel(target.ProcessId, target.SecretKey), token).ConfigureAwait(false);
        server.Counters.CancelForwarded();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(server.Options.ConnectTimeout);
        // The server closes the connection once it has taken the request; wait for that, bounded.
        try { await backend.ReadAsync(new byte[1], deadline.Token).ConfigureAwait(false); }
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
}
