using System.Net;
using System.Net.Sockets;
using HA.Agent.Gossip;
using HA.Core.Errors;
using static HA.Agent.Tests.Gossip.LoopbackGossip;

namespace HA.Agent.Tests.Gossip;

/// <summary>Settings an operator can get wrong are refused at start, naming what to fix.</summary>
public sealed class starting_gossip_with_bad_settings_fails_with_a_clear_error
{
    [Fact]
    public void a_port_in_use_is_named_in_the_error()
    {
        using var members = new LoopbackGossip("n1", "n2");
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(members.EndpointOf("n1"));

        var error = Assert.Throws<OperatorError>(() => members.Start("n1"));

        Assert.StartsWith($"gossip port 127.0.0.1:{members.EndpointOf("n1").Port} is in use", error.Message);
    }

    [Fact]
    public void a_secret_shorter_than_16_bytes_is_refused_naming_gossip_secret()
    {
        using var members = new LoopbackGossip("n1", "n2");

        var error = Assert.Throws<OperatorError>(() => GossipNode.Start(members.OptionsFor("n1") with { Secret = new byte[15] }, Reporting(), TimeProvider.System));

        Assert.Contains("gossip.secret is 15 bytes", error.Message);
        // Nothing was bound: the port is still free.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(members.EndpointOf("n1"));
    }

    [Fact]
    public void a_peer_list_that_includes_this_node_is_refused()
    {
        using var members = new LoopbackGossip("n1", "n2");
        var options = members.OptionsFor("n1") with { Peers = new Dictionary<string, IPEndPoint> { ["n1"] = members.EndpointOf("n1"), ["n2"] = members.EndpointOf("n2") } };

        var error = Assert.Throws<OperatorError>(() => GossipNode.Start(options, Reporting(), TimeProvider.System));

        Assert.Contains("gossip.peers includes this node 'n1'", error.Message);
    }
}
