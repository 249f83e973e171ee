using HA.Core.Events;
using HA.Core.State;
using HA.Proxy.Routing;

namespace HA.Proxy.Tests;

public class balancing_reads_over_replicas
{
    private static ReplicaRoute Replica(string node, int weight = RoutingTable.DefaultWeight) =>
        new(node, "127.0.0.1", 5400, NodeHealth.Healthy, 0, weight, true, null);

    private static readonly ReplicaRoute[] Three = [Replica("n2"), Replica("n3"), Replica("n4")];

    [Fact]
    public void every_policy_named_in_the_configuration_exists()
    {
        foreach (var name in ReplicaBalancers.Names) Assert.Equal(name, ReplicaBalancers.Create(name, new ProxyCounters(), new Random(1))!.Name);
        Assert.Null(ReplicaBalancers.Create("fastest", new ProxyCounters(), new Random(1)));
    }

    [Fact]
    public void least_connections_picks_the_replica_with_the_fewest_open_sessions()
    {
        var counters = new ProxyCounters();
        var balancer = new LeastConnectionsBalancer(counters);
        Assert.Equal("n2", balancer.Pick(Three)!.Node); // all at zero: the first
        counters.ServerConnected("n2");
        counters.ServerConnected("n3");
        Assert.Equal("n4", balancer.Pick(Three)!.Node);
        counters.ServerConnected("n4");
        counters.ServerConnected("n4");
        counters.ServerReleased("n3");
        Assert.Equal("n3", balancer.Pick(Three)!.Node);
    }

    [Fact]
    public void random_reaches_every_replica()
    {
        var balancer = new RandomBalancer(new Random(7));
        var picks = Enumerable.Range(0, 300).Select(_ => balancer.Pick(Three)!.Node).GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(["n2", "n3", "n4"], picks.Keys.Order());
        Assert.All(picks.Values, count => Assert.InRange(count, 50, 150));
    }

    [Fact]
    public void weighted_follows_the_weights_and_a_zero_weight_gets_nothing()
    {
        var balancer = new WeightedBalancer(new Random(11));
        var replicas = new[] { Replica("n2", 300), Replica("n3", 100), Replica("n4", 0) };
        var picks = Enumerable.Range(0, 4000).Select(_ => balancer.Pick(replicas)!.Node).GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        Assert.False(picks.ContainsKey("n4"));
        Assert.InRange(picks["n2"], 2700, 3300);
        Assert.Null(balancer.Pick([Replica("n4", 0)]));
    }
}
