using HA.Agent.Gossip;
using static HA.Agent.Tests.Gossip.LoopbackGossip;

namespace HA.Agent.Tests.Gossip;

/// <summary>Three agents gossiping heartbeats over real UDP sockets on loopback.</summary>
public sealed class agents_hear_each_other_over_gossip
{
    private static readonly string[] Names = ["n1", "n2", "n3"];

    [Fact]
    public async Task three_nodes_each_see_the_other_two_with_what_they_reported()
    {
        using var members = new LoopbackGossip(Names);
        var heardByN1 = new List<ReceivedHeartbeat>();
        await using var n1 = members.Start("n1", Reporting(inRecovery: false, lsn: "0/5000100", detail: "primary"));
        n1.Received += received => { lock (heardByN1) heardByN1.Add(received); };
        await using var n2 = members.Start("n2", Reporting(lsn: "0/5000000"));
        await using var n3 = members.Start("n3", Reporting(lsn: "0/4FFFF00"));
        var nodes = new[] { n1, n2, n3 };

        await UntilAsync(() => nodes.All(n => n.Latest.Count == 2), "every node to hear the other two", nodes);

        foreach (var node in nodes)
        {
            Assert.Equal(Names.Where(n => n != node.Node).Order(), node.Latest.Keys.Order());
            foreach (var (peer, received) in node.Latest)
            {
                var heartbeat = received.Heartbeat;
                Assert.Equal(Cluster, heartbeat.Cluster);
                Assert.Equal(peer, heartbeat.Node);
                Assert.True(heartbeat.Sequence >= 1);
                Assert.True(heartbeat.PostgresRunning);
                Assert.Equal(2, heartbeat.Timeline);
                Assert.Equal(7, heartbeat.StateVersion);
                Assert.True(node.IsFresh(peer, TimeSpan.FromSeconds(30)));
            }
        }
        var primary = n2.Latest["n1"].Heartbeat;
        Assert.False(primary.InRecovery);
        Assert.Equal("0/5000100", primary.CurrentLsn);
        Assert.Equal("primary", primary.Detail);
        Assert.Equal(n1.Incarnation, primary.Incarnation);
        var replica = n1.Latest["n3"].Heartbeat;
        Assert.True(replica.InRecovery);
        Assert.Equal("0/4FFFF00", replica.ReplayedLsn);
        Assert.Equal(0, replica.LagBytes);
        Assert.Equal("0/5000000", n3.Latest["n2"].Heartbeat.ReceivedLsn);
        lock (heardByN1) Assert.Contains(heardByN1, r => r.Heartbeat.Node == "n2");
        Assert.All(nodes, n => Assert.DoesNotContain(n.Counters.RejectedByReason, r => r.Value > 0));
    }

    [Fact]
    public async Task send_now_delivers_a_change_between_intervals()
    {
        using var members = new LoopbackGossip("n1", "n2");
        var lsn = "0/3000000";
        // An interval no test waits out: only the first heartbeat and SendNowAsync can deliver anything.
        await using var n1 = GossipNode.Start(members.OptionsFor("n1") with { Interval = TimeSpan.FromHours(1) }, () => Reporting(inRecovery: false, lsn: Volatile.Read(ref lsn))(), TimeProvider.System);
        await using var n2 = members.Start("n2");
        await UntilAsync(() => n2.Latest.ContainsKey("n1"), "n2 to hear n1's first heartbeat", n1, n2);

        Volatile.Write(ref lsn, "0/3000F00");
        await n1.SendNowAsync();

        await UntilAsync(() => n2.Latest["n1"].Heartbeat.CurrentLsn == "0/3000F00", "n2 to hear n1's new LSN", n1, n2);
        Assert.Equal(2, n2.Latest["n1"].Heartbeat.Sequence);
    }

    [Fact]
    public async Task a_stopped_node_stops_being_fresh_while_the_others_stay_fresh()
    {
        var maxAge = TimeSpan.FromMilliseconds(1500);
        using var members = new LoopbackGossip(Names);
        await using var n1 = members.Start("n1");
        await using var n2 = members.Start("n2");
        var n3 = members.Start("n3");
        await using (n3)
        {
            await UntilAsync(() => n1.IsFresh("n3", maxAge) && n2.IsFresh("n3", maxAge), "n1 and n2 to hear n3", n1, n2, n3);
        }

        // n1 and n2 keep sending to n3's closed port (ICMP port unreachable) and must keep hearing each other.
        await UntilAsync(() => !n1.IsFresh("n3", maxAge) && !n2.IsFresh("n3", maxAge) && n1.IsFresh("n2", maxAge) && n2.IsFresh("n1", maxAge),
            "n3 to go stale at n1 and n2 while they stay fresh to each other", n1, n2);
        var n2SequenceAtN1 = n1.Latest["n2"].Heartbeat.Sequence;
        await UntilAsync(() => n1.Latest["n2"].Heartbeat.Sequence > n2SequenceAtN1 + 5 && n1.IsFresh("n2", maxAge), "n1 to go on hearing n2", n1, n2);
        Assert.True(n1.Latest.ContainsKey("n3"), "the last heartbeat of a stopped node stays visible, only no longer fresh");
    }

    [Fact]
    public async Task a_restarted_node_is_accepted_again_with_a_larger_incarnation_and_its_sequence_restarting()
    {
        using var members = new LoopbackGossip(Names);
        await using var n1 = members.Start("n1");
        await using var n2 = members.Start("n2");
        long firstIncarnation;
        long lastSequence;
        await using (var first = members.Start("n3", Reporting(detail: "first life")))
        {
            firstIncarnation = first.Incarnation;
            await UntilAsync(() => n1.Latest.TryGetValue("n3", out var r) && r.Heartbeat.Sequence >= 10, "n1 to hear ten heartbeats of n3", n1, first);
            lastSequence = n1.Latest["n3"].Heartbeat.Sequence;
        }

        // A long interval: the restarted node sends exactly one heartbeat, its first, while the test looks.
        await using var second = GossipNode.Start(members.OptionsFor("n3") with { Interval = TimeSpan.FromHours(1) }, Reporting(detail: "second life"), TimeProvider.System);
        await UntilAsync(() => new[] { n1, n2 }.All(n => n.Latest["n3"].Heartbeat.Detail == "second life"), "n1 and n2 to hear the restarted n3", n1, n2, second);

        Assert.True(second.Incarnation > firstIncarnation);
        foreach (var node in new[] { n1, n2 })
        {
            var heartbeat = node.Latest["n3"].Heartbeat;
            Assert.Equal(second.Incarnation, heartbeat.Incarnation);
            Assert.Equal(1, heartbeat.Sequence);
            Assert.True(heartbeat.Sequence < lastSequence);
            Assert.Equal(0, node.Counters.Rejected(GossipRejection.Replay));
        }
    }
}
