using HA.Agent.Postgres;
using HA.Agent.Runtime;
using HA.Core.Events;
using HA.Core.State;

namespace HA.Agent.Tests.Runtime;

/// <summary>An agent's members: pgha.yaml's until the log exists, then the log's; addresses from pgha.yaml when it lists the member.</summary>
public sealed class following_the_members_in_the_log
{
    private static ClusterState Log(params NodeSpec[] members)
    {
        var state = new ClusterState { Cluster = "c" };
        state.Apply(new ClusterBootstrapped("c", "n1", 1, "0/0", members) { By = Initiator.System, CorrelationId = "b" }, new EventStamp(1, DateTimeOffset.UnixEpoch, null));
        return state;
    }

    [Fact]
    public void a_joined_node_comes_from_the_log_and_a_removed_one_goes()
    {
        var members = new ClusterMembers(new Dictionary<string, MemberAddress>
        {
            ["n1"] = new("127.0.0.1", 5001, 7001),
            ["n2"] = new("127.0.0.1", 15002, 17002), // through a relay, as the tests' fault relays do
        });
        var changes = new List<string>();
        members.Changed += now => changes.Add(string.Join(",", now.Keys));

        Assert.False(members.Update(Log(new NodeSpec("n1", "127.0.0.1", 5001), new NodeSpec("n2", "127.0.0.1", 5002))));
        Assert.Equal(new ReplicationSource("127.0.0.1", 15002), members["n2"]);

        var state = Log(new NodeSpec("n1", "127.0.0.1", 5001), new NodeSpec("n2", "127.0.0.1", 5002));
        state.Apply(new NodeJoined(new NodeSpec("n4", "10.0.0.4", 5432, GossipPort: 7500)) { By = Initiator.Agent("n4"), CorrelationId = "j" }, new EventStamp(2, DateTimeOffset.UnixEpoch, null));
        Assert.True(members.Update(state));
        Assert.Equal(new MemberAddress("10.0.0.4", 5432, 7500), members.Current["n4"]);
        Assert.Equal(["10.0.0.4/32", "127.0.0.1/32", "::1/128"], members.HbaNetworks());

        state.Apply(new NodeLeft("n2", "gone") { By = Initiator.User("alice"), CorrelationId = "l" }, new EventStamp(3, DateTimeOffset.UnixEpoch, null));
        Assert.True(members.Update(state));
        Assert.Equal(["n1", "n4"], members.Keys);
        Assert.False(members.TryGetValue("n2", out _));
        Assert.Equal(["n1,n2,n4", "n1,n4"], changes);
    }
}
