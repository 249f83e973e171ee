using HA.Core.Events;
using HA.Core.State;
using HA.Proxy.Routing;

namespace HA.Proxy.Tests;

public class choosing_a_server
{
    private static readonly RouteEndpoint N1 = new("n1", "127.0.0.1", 5432);

    private static ReplicaRoute Replica(string node, bool serves, string? why = null) =>
        new(node, "127.0.0.1", 5400 + node[1], NodeHealth.Healthy, 0, RoutingTable.DefaultWeight, serves, why);

    private static RoutingTable Table(RouteEndpoint? primary, params ReplicaRoute[] replicas) => new("c", "c", 3, 10, primary, replicas);

    [Fact]
    public void without_a_routing_table_a_client_is_told_08006()
    {
        var choice = new BackendRouter(ReplicaFallback.Primary, new RoundRobinBalancer()).Choose(ProxyPort.Primary, null);
        Assert.Null(choice.Endpoint);
        Assert.Equal("08006", choice.SqlState);
        Assert.Contains("routing table", choice.Refusal);
    }

    [Fact]
    public void without_a_primary_the_primary_port_says_57P03()
    {
        var choice = new BackendRouter(ReplicaFallback.Primary, new RoundRobinBalancer()).Choose(ProxyPort.Primary, Table(null, Replica("n2", true)));
        Assert.Equal("57P03", choice.SqlState);
        Assert.Contains("has no primary right now", choice.Refusal);
    }

    [Fact]
    public void the_replica_port_takes_serving_replicas_in_turn()
    {
        var router = new BackendRouter(ReplicaFallback.Primary, new RoundRobinBalancer());
        var table = Table(N1, Replica("n2", true), Replica("n3", false, "lag 9 bytes exceeds 1"), Replica("n4", true));
        var picks = Enumerable.Range(0, 6).Select(_ => router.Choose(ProxyPort.Replica, table).Endpoint!.Node).ToList();
        Assert.Equal(["n2", "n4", "n2", "n4", "n2", "n4"], picks);
    }

    [Fact]
    public void with_no_serving_replica_the_replica_port_falls_back_or_refuses_saying_why()
    {
        var table = Table(N1, Replica("n2", false, "replication is Unknown"));
        Assert.Equal(N1, new BackendRouter(ReplicaFallback.Primary, new RoundRobinBalancer()).Choose(ProxyPort.Replica, table).Endpoint);
        var refused = new BackendRouter(ReplicaFallback.Refuse, new RoundRobinBalancer()).Choose(ProxyPort.Replica, table);
        Assert.Equal("57P03", refused.SqlState);
        Assert.Contains("n2: replication is Unknown", refused.Refusal);
        Assert.Contains("proxy.replica_fallback", refused.Refusal);
    }

    [Fact]
    public void a_connection_stays_only_while_its_server_is_what_its_port_promises()
    {
        var router = new BackendRouter(ReplicaFallback.Primary, new RoundRobinBalancer());
        var n2 = new RouteEndpoint("n2", "127.0.0.1", 5400 + '2');
        var before = Table(N1, Replica("n2", true));
        var after = Table(n2, Replica("n1", false, "role is Unknown"));
        Assert.True(router.MayStay(ProxyPort.Primary, N1, before));
        Assert.False(router.MayStay(ProxyPort.Primary, N1, after));
        Assert.False(router.MayStay(ProxyPort.Primary, N1, Table(null)));
        Assert.True(router.MayStay(ProxyPort.Replica, n2, before));
        Assert.True(router.MayStay(ProxyPort.Replica, n2, after)); // fell back to the primary it now is
        Assert.False(new BackendRouter(ReplicaFallback.Refuse, new RoundRobinBalancer()).MayStay(ProxyPort.Replica, n2, after));
        Assert.False(router.MayStay(ProxyPort.Replica, N1, after));
    }
}
