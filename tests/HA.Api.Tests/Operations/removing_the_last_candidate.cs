using HA.Api.Operations;
using HA.Core.Events;
using HA.Core.State;

namespace HA.Api.Tests.Operations;

/// <summary>`pgha member remove` refuses, unless forced, to leave the primary without a replica that could take over.</summary>
public sealed class removing_the_last_candidate
{
    private static ClusterState Cluster(params NodeSpec[] members)
    {
        var state = new ClusterState { Cluster = "shop" };
        state.Apply(new ClusterBootstrapped("shop", "n1", 1, "0/0", members) { By = Initiator.System, CorrelationId = "b" }, new EventStamp(1, DateTimeOffset.UnixEpoch, null));
        return state;
    }

    [Fact]
    public void the_last_replica_that_could_be_promoted_is_named_with_those_that_cannot()
    {
        var state = Cluster(new NodeSpec("n1", "h", 1), new NodeSpec("n2", "h", 2), new NodeSpec("n3", "h", 3, NoFailover: true));
        Assert.Equal("n2 is the last replica that could take over from the primary n1 (n3 has nofailover): without it cluster shop has no automatic failover; add --force to remove it anyway",
            MembershipChange.LastCandidateProblem(state, "n2"));
        Assert.Null(MembershipChange.LastCandidateProblem(state, "n3"));
    }

    [Fact]
    public void another_candidate_the_primary_and_an_unknown_node_are_left_to_the_log()
    {
        var state = Cluster(new NodeSpec("n1", "h", 1), new NodeSpec("n2", "h", 2), new NodeSpec("n3", "h", 3));
        Assert.Null(MembershipChange.LastCandidateProblem(state, "n2"));
        Assert.Null(MembershipChange.LastCandidateProblem(state, "n1"));
        Assert.Null(MembershipChange.LastCandidateProblem(state, "n9"));
    }
}
