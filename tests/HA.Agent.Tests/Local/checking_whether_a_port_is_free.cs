using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HA.Agent.Local;

namespace HA.Agent.Tests.Local;

/// <summary>
/// The demo refuses to start on a port that is in use, and must agree with PostgreSQL on what "in use"
/// means: PostgreSQL listens with SO_REUSEADDR, so what a server on the port left in TIME_WAIT does not
/// stop it. The demo's default ports used to lie in the kernel's ephemeral range, where any outgoing
/// connection may hold one (seen: "port 55432 (witness) is already in use").
/// </summary>
public sealed class checking_whether_a_port_is_free
{
    [Fact]
    public void a_port_with_a_listener_is_in_use_for_everyone()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        Assert.False(PortCheck.IsFree("127.0.0.1", port));
    }

    [Fact]
    public async Task a_port_a_server_left_in_time_wait_is_free_as_it_is_for_postgresql()
    {
        int port;
        using (var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            // As PostgreSQL listens (and as .NET does by default on Linux).
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, port);
            using var accepted = await listener.AcceptAsync();
            // The side that closes first keeps the connection in TIME_WAIT: here the listening port's side.
            accepted.Shutdown(SocketShutdown.Both);
            accepted.Close();
            Assert.Equal(0, await client.ReceiveAsync(new byte[1], SocketFlags.None));
            client.Close();
        }
        Assert.True(InTimeWait(port), $"no connection in TIME_WAIT on port {port}: the test did not set up what it checks");

        Assert.True(PortCheck.IsFree("127.0.0.1", port));
    }

    [Fact]
    public void the_demos_default_ports_lie_outside_the_kernels_ephemeral_range()
    {
        var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        // Witness and nodes from the base port; agents (gossip and API) from base + 1001; their proxies 100 and 200 above.
        var topology = LocalTopology.Generate("demo", 16, LocalTopology.DefaultBasePort);
        var highest = topology.WitnessPort + 1000 + topology.Nodes.Count + 200;
        Assert.True(highest < range[0] || topology.WitnessPort > range[1],
            $"the demo's ports {topology.WitnessPort}-{highest} meet the ephemeral range {range[0]}-{range[1]}");
    }

    /// <summary>Whether /proc/net/tcp lists a connection in TIME_WAIT (state 06) on the local port.</summary>
    private static bool InTimeWait(int port) =>
        File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Any(f => f[3] == "06" && int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port);
}
