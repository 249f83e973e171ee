using System.Net;
using System.Net.Sockets;
using HA.Proxy.Io;
using HA.Proxy.Protocol;

namespace HA.Proxy.Tests;

/// <summary>
/// The relay of a plain session on its own, between two real loopback connections: one to an
/// "application" the test plays, one to a "server" the test plays, so either can stall or reset.
/// </summary>
public class relaying_between_two_sockets
{
    private static readonly byte[] ReadyForQuery = [(byte)'Z', 0, 0, 0, 5, (byte)'I'];

    /// <summary>A connected pair: the proxy's end and the peer's end, with buffer sizes set before connecting.</summary>
    private static async Task<(Socket ProxyEnd, Socket Peer)> ConnectAsync(bool proxyConnects, int proxyReceiveBuffer = 0, int peerReceiveBuffer = 0)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var connecting = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var (proxySide, peerSide) = proxyConnects ? (connecting, (Socket?)null) : (null, connecting);
        if (proxyReceiveBuffer > 0 && proxySide is not null) proxySide.ReceiveBufferSize = proxyReceiveBuffer;
        if (peerReceiveBuffer > 0 && peerSide is not null) peerSide.ReceiveBufferSize = peerReceiveBuffer;
        await connecting.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await listener.AcceptAsync();
        return proxyConnects ? (connecting, accepted) : (accepted, connecting);
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        var all = new MemoryStream();
        var buffer = new byte[8192];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            int received;
            try { received = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { break; }
            if (received == 0) break;
            all.Write(buffer, 0, received);
        }
        return all.ToArray();
    }

    [Fact]
    public async Task what_a_server_sent_before_resetting_reaches_a_client_that_was_not_reading()
    {
        // The application reads through small buffers and not at all for a while; the server sends
        // 100 KB and then resets the connection (as a backend exiting with unread input does).
        var (clientEnd, application) = await ConnectAsync(proxyConnects: false, peerReceiveBuffer: 4096);
        clientEnd.SendBufferSize = 4096;
        var (serverEnd, postgres) = await ConnectAsync(proxyConnects: true, proxyReceiveBuffer: 1 << 20);
        var relay = new PlainRelay(EventLoop.Next(), clientEnd, serverEnd, new ServerGreeting("pg1", (processId, secretKey) => (processId, secretKey)), new ProxyCounters());
        relay.Start("startup"u8.ToArray());

        var startup = new byte[7];
        Assert.Equal(7, await postgres.ReceiveAsync(startup, SocketFlags.None));
        Assert.Equal("startup"u8.ToArray(), startup);
        var payload = Enumerable.Range(0, 100 * 1024).Select(i => (byte)(i * 7 % 251)).ToArray();
        byte[] expected = [.. ReadyForQuery, .. payload];
        await postgres.SendAsync(expected, SocketFlags.None);
        await Task.Delay(500); // on loopback every byte has reached the proxy's socket long before
        postgres.LingerState = new LingerOption(true, 0);
        postgres.Close(); // RST

        await Task.Delay(200); // the reset reaches the relay while the application still does not read
        var received = await ReadToEndAsync(application);
        Assert.Equal(expected.Length, received.Length);
        Assert.Equal(expected, received);
        Assert.Contains(await relay.Ended.WaitAsync(TimeSpan.FromSeconds(10)), new[] { "recv: Connection reset by peer", "the server closed the connection" });
        Assert.Null(relay.Failure);
        application.Dispose();
    }

    [Fact]
    public async Task a_client_that_goes_away_ends_the_relay_and_closes_the_server_connection()
    {
        var (clientEnd, application) = await ConnectAsync(proxyConnects: false);
        var (serverEnd, postgres) = await ConnectAsync(proxyConnects: true);
        var relay = new PlainRelay(EventLoop.Next(), clientEnd, serverEnd, new ServerGreeting("pg1", (processId, secretKey) => (processId, secretKey)), new ProxyCounters());
        relay.Start("startup"u8.ToArray());
        await postgres.SendAsync(ReadyForQuery, SocketFlags.None);
        var ready = new byte[ReadyForQuery.Length];
        Assert.Equal(ReadyForQuery.Length, await application.ReceiveAsync(ready, SocketFlags.None));

        application.Close();
        Assert.Equal("the client closed the connection", await relay.Ended.WaitAsync(TimeSpan.FromSeconds(10)));
        // The server sees its connection end: the startup packet, then nothing.
        Assert.Equal("startup"u8.ToArray(), await ReadToEndAsync(postgres));
        postgres.Dispose();
    }
}
