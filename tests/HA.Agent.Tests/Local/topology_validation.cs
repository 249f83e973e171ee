using HA.Agent.Local;

namespace HA.Agent.Tests.Local;

public sealed class topology_validation
{
    [Fact]
    public void a_generated_topology_is_valid_and_puts_the_witness_on_the_base_port()
    {
        var topology = LocalTopology.Generate("demo", 3, 6000);
        Assert.Empty(topology.Problems());
        Assert.Equal(6000, topology.WitnessPort);
        Assert.Equal([("n1", 6001), ("n2", 6002), ("n3", 6003)], topology.Nodes.Select(n => (n.Name, n.Port)));
        Assert.Equal("n1", topology.InitialPrimary.Name);
    }

    [Fact]
    public void duplicate_names_are_named()
    {
        var topology = new LocalTopology("demo", 6000, [new("a", 6001), new("A", 6002)]);
        Assert.Contains("node name 'a' is used by 2 nodes: names must be unique", topology.Problems());
    }

    [Fact]
    public void a_port_shared_with_the_witness_is_named_with_both_owners()
    {
        var topology = new LocalTopology("demo", 6001, [new("a", 6001), new("b", 6002)]);
        Assert.Contains("port 6001 is given to witness and node a: ports must be unique", topology.Problems());
    }

    [Theory]
    [InlineData("witness", "reserved for the witness")]
    [InlineData("1node", "is not valid")]
    [InlineData("has space", "is not valid")]
    public void bad_node_names_are_refused(string name, string expected)
    {
        var topology = new LocalTopology("demo", 6000, [new(name, 6001)]);
        Assert.Contains(topology.Problems(), p => p.Contains(expected) && p.Contains(name));
    }

    [Fact]
    public void ports_out_of_range_and_empty_clusters_are_refused()
    {
        Assert.Contains("port 80 of node a is outside 1024-65535", new LocalTopology("demo", 6000, [new("a", 80)]).Problems());
        Assert.Contains(new LocalTopology("demo", 6000, []).Problems(), p => p.Contains("no nodes"));
    }
}
