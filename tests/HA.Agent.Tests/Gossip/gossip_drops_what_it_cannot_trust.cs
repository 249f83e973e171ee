using System.Net;
using System.Security.Cryptography;
using System.Text;
using HA.Agent.Gossip;
using static HA.Agent.Tests.Gossip.LoopbackGossip;

namespace HA.Agent.Tests.Gossip;

/// <summary>Datagrams a node must not believe: each is dropped, counted by reason and never shown as a peer's state.</summary>
public sealed class gossip_drops_what_it_cannot_trust
{
    [Fact]
    public async Task a_node_with_the_wrong_secret_is_rejected_by_everyone()
    {
        using var members = new LoopbackGossip("n1", "n2", "n3");
        await using var n1 = members.Start("n1");
        await using var n2 = members.Start("n2");
        await using var n3 = GossipNode.Start(members.OptionsFor("n3") with { Secret = RandomNumberGenerator.GetBytes(32) }, Reporting(), TimeProvider.System);
        var nodes = new[] { n1, n2, n3 };

        await UntilAsync(() => n1.Latest.ContainsKey("n2") && n2.Latest.ContainsKey("n1") && nodes.All(n => n.Counters.Rejected(GossipRejection.BadMac) >= 2),
            "n1 and n2 to hear each other and everyone to reject the other secret", nodes);

        Assert.False(n1.Latest.ContainsKey("n3"));
        Assert.False(n2.Latest.ContainsKey("n3"));
        Assert.Empty(n3.Latest);
        Assert.Equal(0, n3.Counters.Received);
    }

    [Fact]
    public async Task a_replayed_datagram_is_rejected()
    {
        using var members = new LoopbackGossip("r", "s", "tap");
        using var tap = new UdpTap(members.EndpointOf("tap"));
        await using var receiver = GossipNode.Start(members.OptionsFor("r") with { Peers = new Dictionary<string, IPEndPoint> { ["s"] = members.EndpointOf("s") } }, Reporting(), TimeProvider.System);
        // The sender's heartbeats reach the receiver only through the tap; one per SendNowAsync.
        await using var sender = GossipNode.Start(SendingTo(members, "s", members.EndpointOf("tap")), Reporting(detail: "captured"), TimeProvider.System);
        var first = await tap.CaptureAsync();
        await sender.SendNowAsync();
        var second = await tap.CaptureAsync();

        await tap.SendAsync(first, receiver.LocalEndPoint);
        await UntilAsync(() => receiver.Latest.ContainsKey("s"), "the receiver to accept the first heartbeat", receiver);
        await tap.SendAsync(first, receiver.LocalEndPoint);
        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.Replay) == 1, "the receiver to reject the same datagram again", receiver);
        await tap.SendAsync(second, receiver.LocalEndPoint);
        await UntilAsync(() => receiver.Latest["s"].Heartbeat.Sequence == 2, "the receiver to accept the newer heartbeat", receiver);
        await tap.SendAsync(first, receiver.LocalEndPoint);
        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.Replay) == 2, "the receiver to reject the older heartbeat", receiver);

        Assert.Equal(2, receiver.Counters.Received);
        Assert.Equal(2, receiver.Latest["s"].Heartbeat.Sequence);
    }

    [Fact]
    public async Task a_datagram_with_one_byte_flipped_is_rejected()
    {
        using var members = new LoopbackGossip("r", "s", "tap");
        using var tap = new UdpTap(members.EndpointOf("tap"));
        await using var receiver = GossipNode.Start(members.OptionsFor("r") with { Peers = new Dictionary<string, IPEndPoint> { ["s"] = members.EndpointOf("s") } }, Reporting(), TimeProvider.System);
        await using var sender = GossipNode.Start(SendingTo(members, "s", members.EndpointOf("tap")), Reporting(lsn: "0/1000000"), TimeProvider.System);
        var original = await tap.CaptureAsync();

        var lsnAt = Encoding.UTF8.GetString(original).IndexOf("0/1000000", StringComparison.Ordinal);
        Assert.True(lsnAt > 0);
        var tamperedPayload = original.ToArray();
        tamperedPayload[lsnAt + 2] ^= 0x08; // 0/1000000 becomes 0/9000000
        var tamperedMac = original.ToArray();
        tamperedMac[^1] ^= 0x01;
        await tap.SendAsync(tamperedPayload, receiver.LocalEndPoint);
        await tap.SendAsync(tamperedMac, receiver.LocalEndPoint);
        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.BadMac) == 2, "the receiver to reject both altered datagrams", receiver);
        Assert.Empty(receiver.Latest);

        await tap.SendAsync(original, receiver.LocalEndPoint);
        await UntilAsync(() => receiver.Latest.ContainsKey("s"), "the receiver to accept the unaltered datagram", receiver);
        Assert.Equal("0/1000000", receiver.Latest["s"].Heartbeat.ReplayedLsn);
    }

    [Fact]
    public async Task a_signed_heartbeat_from_a_node_that_is_not_a_peer_is_rejected()
    {
        using var members = new LoopbackGossip("r", "s");
        await using var receiver = members.Start("r");
        await using var stranger = GossipNode.Start(members.OptionsFor("s") with { Node = "mallory" }, Reporting(), TimeProvider.System);

        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.UnknownSender) >= 2, "the receiver to reject mallory", receiver, stranger);
        Assert.Empty(receiver.Latest);
    }

    [Fact]
    public async Task a_heartbeat_for_another_cluster_is_rejected()
    {
        using var members = new LoopbackGossip("r", "s");
        await using var receiver = members.Start("r");
        await using var other = GossipNode.Start(members.OptionsFor("s") with { Cluster = "other" }, Reporting(), TimeProvider.System);

        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.WrongCluster) >= 2 && other.Counters.Rejected(GossipRejection.WrongCluster) >= 2,
            "both clusters to reject each other", receiver, other);
        Assert.Empty(receiver.Latest);
        Assert.Empty(other.Latest);
    }

    [Fact]
    public async Task a_peers_heartbeat_from_another_address_is_rejected()
    {
        using var members = new LoopbackGossip("r", "s", "impostor");
        await using var receiver = members.Start("r");
        // Named s and signed with the secret, but sending from 127.0.0.2 where s is configured at 127.0.0.1.
        var elsewhere = new IPEndPoint(IPAddress.Parse("127.0.0.2"), members.EndpointOf("impostor").Port);
        await using var impostor = GossipNode.Start(SendingTo(members, "s", receiver.LocalEndPoint) with { Bind = elsewhere }, Reporting(), TimeProvider.System);

        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.WrongSource) >= 1, "the receiver to reject s's name from another address", receiver, impostor);
        Assert.Empty(receiver.Latest);
    }

    [Fact]
    public async Task a_signed_datagram_that_is_not_a_heartbeat_is_counted_malformed()
    {
        using var members = new LoopbackGossip("r", "s");
        using var tap = new UdpTap(members.EndpointOf("s"));
        await using var receiver = GossipNode.Start(members.OptionsFor("r") with { Interval = TimeSpan.FromHours(1) }, Reporting(), TimeProvider.System);

        var payload = Encoding.UTF8.GetBytes("{\"cluster\":\"main\",\"node\":\"s\"}");
        await tap.SendAsync([.. payload, .. HMACSHA256.HashData(members.Secret, payload)], receiver.LocalEndPoint);
        await tap.SendAsync([1, 2, 3], receiver.LocalEndPoint);

        await UntilAsync(() => receiver.Counters.Rejected(GossipRejection.Malformed) == 2, "the receiver to reject both datagrams as malformed", receiver);
        Assert.Empty(receiver.Latest);
        Assert.Equal(0, receiver.Counters.Rejected(GossipRejection.BadMac));
    }

    private static GossipOptions SendingTo(LoopbackGossip members, string name, IPEndPoint to) =>
        members.OptionsFor(name) with { Peers = new Dictionary<string, IPEndPoint> { ["r"] = to }, Interval = TimeSpan.FromHours(1) };
}
