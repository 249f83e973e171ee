using HA.Agent.Local;
using HA.Api.Demo;

namespace HA.Api.Tests.Demo;

public sealed class reading_a_topology_file
{
    [Fact]
    public void json_with_named_nodes_and_ports()
    {
        var topology = TopologyFile.Parse("""
            { "cluster": "shop", "listen_address": "127.0.0.1", "witness": { "port": 7000 },
              "nodes": [ { "name": "alpha", "port": 7001 }, { "name": "beta", "port": 7005 } ] }
            """, "cluster.json", 55432);
        Assert.Equal("shop", topology.ClusterName);
        Assert.Equal(7000, topology.WitnessPort);
        Assert.Equal([new LocalNodeSpec("alpha", 7001), new LocalNodeSpec("beta", 7005)], topology.Nodes);
    }

    [Fact]
    public void yaml_with_a_replica_count_generates_names_and_ports_from_the_base_port()
    {
        var topology = TopologyFile.Parse("""
            base_port: 8000
            replicas: 2
            """, "cluster.yaml", 55432);
        Assert.Equal("demo", topology.ClusterName);
        Assert.Equal(8000, topology.WitnessPort);
        Assert.Equal(["n1:8001", "n2:8002", "n3:8003"], topology.Nodes.Select(n => $"{n.Name}:{n.Port}"));
    }

    [Fact]
    public void nodes_without_ports_get_base_port_plus_position()
    {
        var topology = TopologyFile.Parse("""
            base_port: 9000
            nodes: [ { name: a }, { name: b, port: 9100 }, { name: c } ]
            """, "t.yaml", 55432);
        Assert.Equal(["a:9001", "b:9100", "c:9003"], topology.Nodes.Select(n => $"{n.Name}:{n.Port}"));
    }

    [Theory]
    [InlineData("nodse: []", "t.yaml: unknown key 'nodse' (line 1); expected cluster, listen_address, base_port, witness, replicas, nodes")]
    [InlineData("nodes: [ { name: a, prot: 1 } ]", "t.yaml: unknown key 'nodes[0].prot' (line 1); expected nodes[0].name, nodes[0].port")]
    [InlineData("nodes: [ { port: 7001 } ]", "t.yaml: nodes[0].name is missing")]
    [InlineData("nodes: [ { name: a, port: seven } ]", "t.yaml: nodes[0].port must be a whole number, got 'seven' (line 1)")]
    [InlineData("replicas: 2\nnodes: [ { name: a } ]", "t.yaml: replicas is 2 but nodes lists 1 node(s), that is a primary and 0 replica(s); give one or make them agree")]
    [InlineData("cluster: x", "t.yaml: give either nodes (a list of { name, port }) or replicas (a count)")]
    [InlineData("replicas: -1", "t.yaml: replicas must be 0 or more, got -1")]
    [InlineData("- a\n- b", "t.yaml: expected a mapping with keys cluster, listen_address, base_port, witness, replicas, nodes")]
    [InlineData("nodes: [ { name: a, port: 7001 }, { name: b, port: 7001 } ]", "t.yaml: port 7001 is given to node a and node b: ports must be unique")]
    [InlineData("listen_address: somewhere\nreplicas: 1", "t.yaml: listen address 'somewhere' is not an IP address")]
    public void mistakes_name_the_file_and_the_key(string text, string message)
    {
        var error = Assert.Throws<TopologyError>(() => TopologyFile.Parse(text, "t.yaml", 6000));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void broken_syntax_names_the_line()
    {
        var error = Assert.Throws<TopologyError>(() => TopologyFile.Parse("{ \"nodes\": [ {\"name\": \"a\" } ", "cluster.json", 6000));
        Assert.StartsWith("cluster.json: line ", error.Message);
    }

    [Fact]
    public void a_missing_file_is_named()
    {
        var error = Assert.Throws<TopologyError>(() => TopologyFile.Load("/nonexistent/cluster.yaml", 6000));
        Assert.Equal("topology file /nonexistent/cluster.yaml does not exist", error.Message);
    }
}
