using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using HA.Agent.Gossip;
using HA.Testing;

namespace HA.Agent.Tests.Gossip;

/// <summary>
/// Named gossip members on loopback UDP ports reserved for one test (through <see cref="FreePorts"/>,
/// which locks them across test processes, and checked free for UDP), their options and the heartbeats they report.
/// </summary>
internal sealed class LoopbackGossip : IDisposable
{
    public const string Cluster = "main";
    private readonly Dictionary<string, IPEndPoint> _endpoints;
    private readonly FreePorts _ports;

    public LoopbackGossip(params string[] names)
    {
        for (var attempt = 0; ; attempt++)
        {
            var ports = FreePorts.Reserve(names.Length);
            if (ports.Ports.All(IsFreeForUdp))
            {
                _ports = ports;
                break;
            }
            ports.Dispose();
            if (attempt == 20) throw new InvalidOperationException($"could not reserve {names.Length} free loopback UDP ports");
        }
        _endpoints = names.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => new IPEndPoint(IPAddress.Loopback, _ports.Ports[p.i]));
    }

    public byte[] Secret { get; } = RandomNumberGenerator.GetBytes(32);

    public IPEndPoint EndpointOf(string name) => _endpoints[name];

    /// <summary>Options for <paramref name="name"/> with every other member as a peer, a 100 ms interval and the shared secret.</summary>
    public GossipOptions OptionsFor(string name) => new()
    {
        Cluster = Cluster,
        Node = name,
        Bind = EndpointOf(name),
        Peers = _endpoints.Where(p => p.Key != name).ToDictionary(),
        Secret = Secret,
        Interval = TimeSpan.FromMilliseconds(100),
    };

    public GossipNode Start(string name, Func<Heartbeat>? reporting = null) =>
        GossipNode.Start(OptionsFor(name), reporting ?? Reporting(), TimeProvider.System);

    /// <summary>What an agent reports; the gossip node stamps cluster, node, incarnation, sequence and time.</summary>
    public static Func<Heartbeat> Reporting(bool inRecovery = true, string lsn = "0/3000060", string? detail = null) => () => new Heartbeat
    {
        Cluster = "",
        Node = "",
        Incarnation = 0,
        Sequence = 0,
        SentAt = default,
        PostgresRunning = true,
        InRecovery = inRecovery,
        Timeline = 2,
        CurrentLsn = inRecovery ? null : lsn,
        ReceivedLsn = inRecovery ? lsn : null,
        ReplayedLsn = inRecovery ? lsn : null,
        LagBytes = inRecovery ? 0 : null,
        Detail = detail,
        StateVersion = 7,
    };

    /// <summary>Waits (generously) until <paramref name="condition"/> holds, reporting what <paramref name="nodes"/> hear if it never does.</summary>
    public static Task UntilAsync(Func<bool> condition, string what, params GossipNode[] nodes) =>
        Eventually.HoldsAsync(() => Task.FromResult(string.Join(" | ", nodes.Select(n => n.ToString()))), _ => condition(), TimeSpan.FromSeconds(30), what);

    private static bool IsFreeForUdp(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose() => _ports.Dispose();
}

/// <summary>A plain UDP socket standing where a peer should be: it captures what a node sends and can send anything back.</summary>
internal sealed class UdpTap(IPEndPoint endpoint) : IDisposable
{
    private readonly Socket _socket = Bound(endpoint);

    public async Task<byte[]> CaptureAsync()
    {
        var buffer = new byte[64 * 1024];
        var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0)).WaitAsync(TimeSpan.FromSeconds(30));
        return buffer[..result.ReceivedBytes];
    }

    public async Task SendAsync(byte[] datagram, IPEndPoint to) => await _socket.SendToAsync(datagram, SocketFlags.None, to);

    private static Socket Bound(IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(endpoint);
        return socket;
    }

    public void Dispose() => _socket.Dispose();
}
