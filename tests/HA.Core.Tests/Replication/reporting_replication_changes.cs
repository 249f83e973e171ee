using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Replication;

public class reporting_replication_changes
{
    private const long MaxLag = 1000;
    private static readonly Initiator By = Initiator.Coordinator("n1");

    private static IReadOnlyList<ReplicationStateChanged> Changes(Scenario scenario, params ReplicaObservation[] seen) =>
        ReplicationReports.Changes(scenario.State, seen, MaxLag, By);

    [Fact]
    public void a_replica_that_starts_streaming_is_reported_once_and_then_not_at_every_tick()
    {
        var scenario = Scenario.Bootstrapped();
        var first = Changes(scenario, new ReplicaObservation("n2", true, 10, "n1"), new ReplicaObservation("n3", true, 20, "n1"));
        Assert.Equal([("n2", ReplicationStatus.Streaming, 10L), ("n3", ReplicationStatus.Streaming, 20L)], first.Select(e => (e.Node, e.Status, e.LagBytes)));
        Assert.Equal("streaming from n1, 10 bytes behind", first[0].Reason);
        foreach (var e in first) scenario.Append(e);
        Assert.Empty(Changes(scenario, new ReplicaObservation("n2", true, 500, "n1"), new ReplicaObservation("n3", true, 0, "n1")));
        Assert.Equal(["n2", "n3"], RoutingTable.From(scenario.State, MaxLag).Replicas.Where(r => r.ServesReads).Select(r => r.Node));
    }

    [Fact]
    public void lag_crossing_the_limit_is_reported_both_ways_and_takes_the_replica_out_of_routing()
    {
        var scenario = Scenario.Bootstrapped().Streaming("n2", lag: 10);
        var over = Assert.Single(Changes(scenario, new ReplicaObservation("n2", true, 5000, "n1")));
        Assert.Equal("lag 5000 bytes exceeds 1000", over.Reason);
        scenario.Append(over);
        Assert.Equal("lag 5000 bytes exceeds 1000", RoutingTable.From(scenario.State, MaxLag).Replicas.Single(r => r.Node == "n2").ExcludedBecause);
        Assert.Empty(Changes(scenario, new ReplicaObservation("n2", true, 9000, "n1")));
        var back = Assert.Single(Changes(scenario, new ReplicaObservation("n2", true, 3, "n1")));
        Assert.Equal("lag 3 bytes is back within 1000", back.Reason);
    }

    [Fact]
    public void a_replica_that_stops_streaming_from_the_primary_is_reported_stopped()
    {
        var scenario = Scenario.Bootstrapped().Streaming("n2");
        var stopped = Assert.Single(Changes(scenario, new ReplicaObservation("n2", false, null, "n3")));
        Assert.Equal((ReplicationStatus.Stopped, "not streaming from the primary n1 (upstream: n3)"), (stopped.Status, stopped.Reason));
        scenario.Append(stopped);
        Assert.Empty(Changes(scenario, new ReplicaObservation("n2", false, null, null)));
        Assert.False(RoutingTable.From(scenario.State, MaxLag).Replicas.Single(r => r.Node == "n2").ServesReads);
    }

    [Fact]
    public void the_primary_and_unknown_nodes_are_never_reported()
    {
        var scenario = Scenario.Bootstrapped();
        Assert.Empty(Changes(scenario, new ReplicaObservation("n1", false, null, null), new ReplicaObservation("n9", true, 0, "n1")));
    }
}
