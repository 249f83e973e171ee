using System.Net;
using HA.Agent.Gossip;
using static HA.Agent.Tests.Gossip.LoopbackGossip;

namespace HA.Agent.Tests.Gossip;

/// <summary>A member that joins is heard once the others know it; one that leaves is dropped and forgotten.</summary>
public sealed class gossip_follows_the_members
{
    [Fact]
    public async Task a_joined_peer_is_heard_after_the_update_and_a_removed_one_is_forgotten_and_dropped()
    {
        using var members = new LoopbackGossip("n1", "n2", "n4");
        var known = new Dictionary<string, IPEndPoint> { ["n2"] = members.EndpointOf("n2") };
        await using var n1 = GossipNode.Start(members.OptionsFor("n1") with { Peers = known }, Reporting(), TimeProvider.System);
        await using var n2 = GossipNode.Start(members.OptionsFor("n2") with { Peers = new Dictionary<string, IPEndPoint> { ["n1"] = members.EndpointOf("n1") } }, Reporting(), TimeProvider.System);
        await using var n4 = members.Start("n4");

        await UntilAsync(() => n1.Latest.ContainsKey("n2") && n1.Counters.Rejected(GossipRejection.UnknownSender) >= 2, "n1 to hear n2 and drop the unknown n4", n1);
        Assert.False(n1.Latest.ContainsKey("n4"));

        n1.UpdatePeers(new Dictionary<string, IPEndPoint>(known) { ["n4"] = members.EndpointOf("n4") });
        await UntilAsync(() => n1.Latest.ContainsKey("n4") && n4.Latest.ContainsKey("n1"), "n1 and n4 to hear each other", n1, n4);

        n1.UpdatePeers(known);
        Assert.False(n1.Latest.ContainsKey("n4"));
        var dropped = n1.Counters.Rejected(GossipRejection.UnknownSender);
        await UntilAsync(() => n1.Counters.Rejected(GossipRejection.UnknownSender) >= dropped + 2, "n1 to drop n4's heartbeats again", n1);
        Assert.False(n1.Latest.ContainsKey("n4"));
        Assert.Equal(["n2"], n1.Peers.Keys);
    }
}
