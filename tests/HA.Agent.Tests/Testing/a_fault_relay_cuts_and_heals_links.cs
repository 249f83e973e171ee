using System.Net;
using System.Net.Sockets;
using System.Text;
using HA.Agent.Local;
using HA.Testing;
using Npgsql;

namespace HA.Agent.Tests.Testing;

/// <summary>
/// The relay that partition tests put between a node and the rest (DESIGN §11), on real loopback sockets:
/// it forwards while whole, black-holes or resets while cut, and forwards again once healed.
/// </summary>
public sealed class a_fault_relay_cuts_and_heals_links
{
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task an_echo_server_answers_through_a_whole_relay()
    {
        using var ports = FreePorts.Reserve(2);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        await using var relay = FaultRelay.StartTcp(Loopback(ports.Ports[1]), echo.EndPoint, "to-echo");

        using var first = await ConnectAsync(relay);
        using var second = await ConnectAsync(relay);

        Assert.Equal("hello", await EchoAsync(first, "hello"));
        Assert.Equal("again", await EchoAsync(first, "again"));
        Assert.Equal("other", await EchoAsync(second, "other"));
        Assert.Equal(2, relay.ForwardedConnections);
        Assert.False(relay.IsCut);
    }

    [Fact]
    public async Task a_black_hole_cut_silences_an_existing_connection_without_closing_it()
    {
        using var ports = FreePorts.Reserve(2);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        await using var relay = FaultRelay.StartTcp(Loopback(ports.Ports[1]), echo.EndPoint, "to-echo");
        using var client = await ConnectAsync(relay);
        Assert.Equal("before", await EchoAsync(client, "before"));

        relay.Cut();

        Assert.True(relay.IsCut);
        await client.SendAsync(Encoding.ASCII.GetBytes("during"));
        Assert.Equal(Outcome.Silent, await ReadAsync(client, Silence));
    }

    [Fact]
    public async Task a_black_hole_cut_accepts_a_new_connection_and_never_answers_it()
    {
        using var ports = FreePorts.Reserve(2);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        await using var relay = FaultRelay.StartTcp(Loopback(ports.Ports[1]), echo.EndPoint, "to-echo");

        relay.Cut(CutMode.BlackHole);

        using var client = await ConnectAsync(relay);
        await client.SendAsync(Encoding.ASCII.GetBytes("anyone?"));
        Assert.Equal(Outcome.Silent, await ReadAsync(client, Silence));
        Assert.Equal(1, relay.HeldConnections);
        Assert.Equal(0, relay.ForwardedConnections);
        Assert.Equal(0, echo.Accepted);
    }

    [Fact]
    public async Task healing_closes_the_held_connections_and_a_new_connection_echoes_again()
    {
        using var ports = FreePorts.Reserve(2);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        await using var relay = FaultRelay.StartTcp(Loopback(ports.Ports[1]), echo.EndPoint, "to-echo");
        using var silenced = await ConnectAsync(relay);
        Assert.Equal("before", await EchoAsync(silenced, "before"));
        relay.Cut();
        using var unanswered = await ConnectAsync(relay);
        // Held only once the relay accepted it; a connection still in the backlog at the heal would simply be forwarded.
        await Eventually.HoldsAsync(() => Task.FromResult(relay.HeldConnections), held => held == 2, Patience, "both connections held");
        await unanswered.SendAsync(Encoding.ASCII.GetBytes("anyone?"));
        Assert.Equal(Outcome.Silent, await ReadAsync(unanswered, Silence));

        relay.Heal();

        Assert.False(relay.IsCut);
        Assert.Equal(0, relay.HeldConnections);
        Assert.Equal(Outcome.Closed, await ReadAsync(silenced, Patience));
        Assert.Equal(Outcome.Closed, await ReadAsync(unanswered, Patience));
        using var fresh = await ConnectAsync(relay);
        Assert.Equal("after", await EchoAsync(fresh, "after"));
        Assert.Equal(2, relay.ForwardedConnections);
    }

    [Fact]
    public async Task a_reset_cut_closes_existing_connections_and_new_ones_at_once()
    {
        using var ports = FreePorts.Reserve(2);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        await using var relay = FaultRelay.StartTcp(Loopback(ports.Ports[1]), echo.EndPoint, "to-echo");
        using var existing = await ConnectAsync(relay);
        Assert.Equal("before", await EchoAsync(existing, "before"));

        relay.Cut(CutMode.Reset);

        Assert.Equal(Outcome.Closed, await ReadAsync(existing, Patience));
        Assert.Equal(Outcome.Closed, await ConnectAndReadAsync(relay));
        Assert.Equal(1, relay.ForwardedConnections);

        relay.Heal();
        using var fresh = await ConnectAsync(relay);
        Assert.Equal("after", await EchoAsync(fresh, "after"));
    }

    [Fact]
    public async Task datagrams_pass_are_dropped_while_cut_and_pass_again_after_healing()
    {
        using var ports = FreePorts.Reserve(2);
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(Loopback(ports.Ports[0]));
        await using var relay = FaultRelay.StartUdp(Loopback(ports.Ports[1]), Loopback(ports.Ports[0]), "to-receiver");
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(Loopback(0));

        await sender.SendToAsync(Encoding.ASCII.GetBytes("first"), relay.ListenEndPoint);
        var (first, source) = await ReceiveDatagramAsync(receiver, Patience);
        Assert.Equal("first", first);
        Assert.Equal(IPAddress.Loopback, source.Address);

        relay.Cut();
        await sender.SendToAsync(Encoding.ASCII.GetBytes("lost"), relay.ListenEndPoint);
        Assert.Null((await ReceiveDatagramAsync(receiver, Silence)).Text);

        relay.Heal();
        await sender.SendToAsync(Encoding.ASCII.GetBytes("after"), relay.ListenEndPoint);
        // The datagram sent while cut was dropped, not delayed: the next one to arrive is the one sent after healing.
        Assert.Equal("after", (await ReceiveDatagramAsync(receiver, Patience)).Text);
        Assert.Equal(2, relay.ForwardedDatagrams);
    }

    [Fact]
    public async Task a_relay_set_cuts_and_heals_every_relay_in_it()
    {
        using var ports = FreePorts.Reserve(5);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(Loopback(ports.Ports[1]));
        await using var inbound = FaultRelay.StartTcp(Loopback(ports.Ports[2]), echo.EndPoint, "n1-in");
        await using var outbound = FaultRelay.StartTcp(Loopback(ports.Ports[3]), echo.EndPoint, "n1-out");
        await using var gossip = FaultRelay.StartUdp(Loopback(ports.Ports[4]), Loopback(ports.Ports[1]), "n1-gossip");
        var partition = new RelaySet(inbound, outbound, gossip);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(Loopback(0));

        partition.Cut();

        Assert.True(partition.IsCut);
        Assert.All(partition.Relays, r => Assert.True(r.IsCut, r.ToString()));
        foreach (var relay in new[] { inbound, outbound })
        {
            using var client = await ConnectAsync(relay);
            await client.SendAsync(Encoding.ASCII.GetBytes("anyone?"));
            Assert.Equal(Outcome.Silent, await ReadAsync(client, Silence));
        }
        await sender.SendToAsync(Encoding.ASCII.GetBytes("lost"), gossip.ListenEndPoint);

        partition.Heal();

        Assert.False(partition.IsCut);
        Assert.All(partition.Relays, r => Assert.False(r.IsCut, r.ToString()));
        foreach (var relay in new[] { inbound, outbound })
        {
            using var client = await ConnectAsync(relay);
            Assert.Equal(relay.Name, await EchoAsync(client, relay.Name));
        }
        await sender.SendToAsync(Encoding.ASCII.GetBytes("after"), gossip.ListenEndPoint);
        Assert.Equal("after", (await ReceiveDatagramAsync(receiver, Patience)).Text);
    }

    [Fact]
    public async Task disposing_closes_every_connection_and_frees_the_listen_ports()
    {
        using var ports = FreePorts.Reserve(4);
        await using var echo = EchoServer.Start(Loopback(ports.Ports[0]));
        var tcp = FaultRelay.StartTcp(Loopback(ports.Ports[1]), echo.EndPoint, "to-echo");
        var udp = FaultRelay.StartUdp(Loopback(ports.Ports[2]), Loopback(ports.Ports[3]), "to-nowhere");
        using var forwarded = await ConnectAsync(tcp);
        Assert.Equal("before", await EchoAsync(forwarded, "before"));
        tcp.Cut();
        using var held = await ConnectAsync(tcp);
        await held.SendAsync(Encoding.ASCII.GetBytes("anyone?"));
        Assert.Equal(Outcome.Silent, await ReadAsync(held, Silence));

        await tcp.DisposeAsync();
        await udp.DisposeAsync();

        Assert.Equal(Outcome.Closed, await ReadAsync(forwarded, Patience));
        Assert.Equal(Outcome.Closed, await ReadAsync(held, Patience));
        Assert.True(PortCheck.IsFree("127.0.0.1", ports.Ports[1]), $"tcp port {ports.Ports[1]} still bound");
        using var rebound = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        rebound.Bind(Loopback(ports.Ports[2]));
    }

    [Fact]
    public async Task a_postgres_query_through_the_relay_times_out_while_cut_and_works_after_healing()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 1);
        using var ports = FreePorts.Reserve(1);
        await using var relay = FaultRelay.StartTcp(Loopback(ports.Ports[0]), Loopback(cluster.Primary.Settings.Port), "to-n1");
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = relay.ListenEndPoint.Port,
            Username = "postgres",
            Password = cluster.Cluster.Credentials.SuperuserPassword,
            Database = "postgres",
            Timeout = 2,
            CommandTimeout = 2,
            Pooling = false,
        }.ConnectionString;
        await using var existing = new NpgsqlConnection(connectionString);
        await existing.OpenAsync();
        Assert.Equal(1, await SelectOneAsync(existing));

        relay.Cut();

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => SelectOneAsync(existing));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => SelectOneOnANewConnectionAsync(connectionString));

        relay.Heal();

        Assert.Equal(1, await Eventually.HoldsAsync(() => SelectOneOnANewConnectionAsync(connectionString), one => one == 1, Patience, "SELECT 1 through the healed relay"));
    }

    private static IPEndPoint Loopback(int port) => new(IPAddress.Loopback, port);

    private static async Task<int> SelectOneAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<int> SelectOneOnANewConnectionAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return await SelectOneAsync(connection);
    }

    private static async Task<Socket> ConnectAsync(FaultRelay relay)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(Patience);
        await socket.ConnectAsync(relay.ListenEndPoint, timeout.Token);
        return socket;
    }

    /// <summary>Sends a short message and reads until the same number of bytes came back.</summary>
    private static async Task<string> EchoAsync(Socket socket, string message)
    {
        var bytes = Encoding.ASCII.GetBytes(message);
        await socket.SendAsync(bytes);
        var received = new byte[bytes.Length];
        using var timeout = new CancellationTokenSource(Patience);
        for (var read = 0; read < received.Length;)
        {
            var count = await socket.ReceiveAsync(received.AsMemory(read), SocketFlags.None, timeout.Token);
            if (count == 0) throw new InvalidOperationException($"closed after {read} of {received.Length} echoed bytes");
            read += count;
        }
        return Encoding.ASCII.GetString(received);
    }

    private enum Outcome { Data, Silent, Closed }

    /// <summary>What one read sees within <paramref name="within"/>: data, nothing, or the end of the connection (closed or reset).</summary>
    private static async Task<Outcome> ReadAsync(Socket socket, TimeSpan within)
    {
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(within);
        try
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return read == 0 ? Outcome.Closed : Outcome.Data;
        }
        catch (OperationCanceledException)
        {
            return Outcome.Silent;
        }
        catch (SocketException)
        {
            return Outcome.Closed;
        }
    }

    private static async Task<Outcome> ConnectAndReadAsync(FaultRelay relay)
    {
        Socket socket;
        try
        {
            socket = await ConnectAsync(relay);
        }
        catch (SocketException)
        {
            return Outcome.Closed;
        }
        using (socket)
        {
            try
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes("anyone?"));
            }
            catch (SocketException)
            {
                return Outcome.Closed;
            }
            return await ReadAsync(socket, Patience);
        }
    }

    private static async Task<(string? Text, IPEndPoint Source)> ReceiveDatagramAsync(Socket socket, TimeSpan within)
    {
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(within);
        try
        {
            var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
            return (Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return (null, new IPEndPoint(IPAddress.None, 0));
        }
    }

    /// <summary>A TCP server that sends back whatever it receives, on every connection, until the client closes.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly CancellationTokenSource _stopping = new();
        private readonly List<Socket> _connections = [];
        private readonly Task _loop;
        private int _accepted;

        private EchoServer(Socket listener)
        {
            _listener = listener;
            _loop = AcceptAsync();
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

        public int Accepted => Volatile.Read(ref _accepted);

        public static EchoServer Start(IPEndPoint endPoint)
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(endPoint);
            listener.Listen(16);
            return new EchoServer(listener);
        }

        private async Task AcceptAsync()
        {
            var echoes = new List<Task>();
            try
            {
                while (true)
                {
                    var connection = await _listener.AcceptAsync(_stopping.Token);
                    Interlocked.Increment(ref _accepted);
                    lock (_connections) _connections.Add(connection);
                    echoes.Add(EchoAsync(connection));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // Stopped.
            }
            await Task.WhenAll(echoes);
        }

        private async Task EchoAsync(Socket connection)
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var read = await connection.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token);
                    if (read == 0) break;
                    await connection.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stopping.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // The client went away or the server stopped.
            }
            finally
            {
                connection.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync();
            _listener.Dispose();
            lock (_connections)
            {
                foreach (var connection in _connections) connection.Dispose();
            }
            await _loop;
            _stopping.Dispose();
        }
    }
}
