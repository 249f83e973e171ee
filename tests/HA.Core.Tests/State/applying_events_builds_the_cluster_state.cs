using System.Text.Json;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Tests.State;

public sealed class applying_events_builds_the_cluster_state
{
    private static readonly Initiator Coordinator = Scenario.Coordinator;

    [Fact]
    public void bootstrap_names_the_primary_the_members_and_term_one()
    {
        var state = Scenario.Bootstrapped().State;
        Assert.Equal("cluster/demo", state.Id);
        Assert.Equal(1, state.Version);
        Assert.Equal(1, state.Term);
        Assert.Equal("n1", state.Primary);
        Assert.Equal(["n1", "n2", "n3"], state.Nodes.Keys);
        Assert.Equal(NodeRole.Primary, state.Nodes["n1"].Role);
        Assert.Equal(NodeRole.Replica, state.Nodes["n2"].Role);
    }

    [Fact]
    public void replicas_serve_reads_only_when_streaming_healthy_attached_and_within_the_lag_limit()
    {
        var scenario = Scenario.Bootstrapped(4).Streaming("n2").Streaming("n3", lag: 50_000_000);
        scenario.Append(new NodeDetached("n4", "disk swap") { By = Initiator.User("alice"), CorrelationId = "c1" });

        var routing = RoutingTable.From(scenario.State, maxReplicaLagBytes: 16 * 1024 * 1024);

        Assert.Equal(new RouteEndpoint("n1", "127.0.0.1", 5501), routing.Primary);
        var reasons = routing.Replicas.ToDictionary(r => r.Node, r => r.ExcludedBecause);
        Assert.Null(reasons["n2"]);
        Assert.Equal("lag 50000000 bytes exceeds 16777216", reasons["n3"]);
        Assert.Equal("detached", reasons["n4"]);
        Assert.Equal(["n2"], routing.Replicas.Where(r => r.ServesReads).Select(r => r.Node));
    }

    [Fact]
    public void a_failover_fences_the_old_primary_moves_routing_and_rejoins_it_as_a_replica()
    {
        var scenario = Scenario.Bootstrapped().Streaming("n2").Streaming("n3");
        scenario.Append(new FailoverStarted("f1", 2, "primary lease expired", "n1", "n2",
            [new CandidateAssessment("n2", "0/5000000", 0, 0, null), new CandidateAssessment("n3", "0/4000000", 1000, 0, "behind n2")],
            [new Observation("n2", "n1", false, "connection refused")])
        { By = Coordinator, CorrelationId = "f1" });
        Assert.Equal(2, scenario.State.Term);
        Assert.Equal("f1", scenario.State.Failover?.Id);

        scenario.Append(new NodeFenced("n1", 2, "lease expired", null) { By = Coordinator, CorrelationId = "f1" });
        Assert.Null(RoutingTable.From(scenario.State, 1 << 24).Primary);

        scenario.Append(new PrimaryChanged(2, "n2", "n1", 2, "0/5000100") { By = Coordinator, CorrelationId = "f1" });
        var routing = RoutingTable.From(scenario.State, 1 << 24);
        Assert.Equal("n2", routing.Primary?.Node);
        Assert.Equal(2, routing.Term);
        Assert.Equal(NodeRole.FormerPrimary, scenario.State.Nodes["n1"].Role);
        Assert.Equal("role is FormerPrimary", routing.Replicas.Single(r => r.Node == "n1").ExcludedBecause);

        scenario.Append(new FailoverCompleted("f1", 2, "n2", TimeSpan.FromSeconds(4)) { By = Coordinator, CorrelationId = "f1" });
        scenario.Append(new NodeRejoined("n1", "rewind", 2, TimeSpan.FromSeconds(3)) { By = Initiator.Agent("n1"), CorrelationId = "f1" });
        Assert.Null(scenario.State.Failover);
        Assert.Equal(NodeRole.Replica, scenario.State.Nodes["n1"].Role);
        Assert.False(scenario.State.Nodes["n1"].Fenced);
    }

    [Fact]
    public void pause_directives_parameters_and_sync_standbys_are_tracked()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new FailoverPaused("maintenance window") { By = Initiator.User("alice"), CorrelationId = "p" });
        Assert.True(scenario.State.Paused);
        Assert.Equal("user alice", scenario.State.PausedBy);

        scenario.Append(new DirectiveIssued("d1", "n2", DirectiveKind.Checkpoint, 1, 7, DateTimeOffset.MaxValue, new Checkpoint()) { By = Coordinator, CorrelationId = "x" }, token: 7);
        Assert.Equal(DirectiveKind.Checkpoint, scenario.State.PendingDirectives["d1"].Kind);
        scenario.Append(new DirectiveSucceeded("d1", "n2", TimeSpan.FromMilliseconds(12), "checkpoint done") { By = Initiator.Agent("n2"), CorrelationId = "x" });
        Assert.Empty(scenario.State.PendingDirectives);

        scenario.Append(new PostgresParametersChanged(new Dictionary<string, string?> { ["work_mem"] = "8MB", ["shared_buffers"] = "1GB" }, ["shared_buffers"]) { By = Initiator.User("bob"), CorrelationId = "p1" });
        scenario.Append(new PostgresParametersChanged(new Dictionary<string, string?> { ["work_mem"] = null }, []) { By = Initiator.User("bob"), CorrelationId = "p2" });
        Assert.Equal(new Dictionary<string, string> { ["shared_buffers"] = "1GB" }, scenario.State.Parameters);

        scenario.Append(new SynchronousStandbysChanged(SynchronousMode.On, 1, ["n2"]) { By = Coordinator, CorrelationId = "s" });
        Assert.Equal(["n2"], scenario.State.SynchronousStandbys);
        scenario.Append(new NodeLeft("n2", "removed") { By = Initiator.User("bob"), CorrelationId = "r" });
        Assert.Empty(scenario.State.SynchronousStandbys);
        Assert.Equal(7, scenario.State.HighestFencingToken);
    }

    [Fact]
    public void replaying_the_history_gives_exactly_the_incremental_state()
    {
        var scenario = Scenario.Bootstrapped().Streaming("n2").Streaming("n3", 100);
        scenario.Append(new CoordinatorElected("n1", 3) { By = Coordinator, CorrelationId = "e" }, token: 3);
        scenario.Append(new FailoverStarted("f1", 2, "lost", "n1", "n2", [], []) { By = Coordinator, CorrelationId = "f1" }, token: 3);
        scenario.Append(new PrimaryChanged(2, "n2", "n1", 2, "0/6000000") { By = Coordinator, CorrelationId = "f1" }, token: 3);

        var replayed = ClusterState.Replay(scenario.History);
        Assert.Equal(JsonSerializer.Serialize(scenario.State), JsonSerializer.Serialize(replayed));

        var halfway = ClusterState.Replay(scenario.History.Take(4));
        Assert.Equal("n1", halfway.Primary);
        Assert.Equal(4, halfway.Version);
    }
}

public sealed class checking_an_event_before_it_is_appended
{
    private static readonly Initiator Coordinator = Scenario.Coordinator;

    [Fact]
    public void the_first_event_must_bootstrap_the_cluster()
    {
        var state = new ClusterState { Cluster = "demo" };
        Assert.Equal("cluster demo has no history yet: its first event must be ClusterBootstrapped, not NodeJoined",
            state.Check(new NodeJoined(new NodeSpec("n9", "h", 1)) { By = Coordinator, CorrelationId = "x" }));
    }

    [Fact]
    public void an_unknown_node_is_named_with_the_members()
    {
        var state = Scenario.Bootstrapped().State;
        Assert.Equal("unknown node 'n7' in cluster demo (members: n1, n2, n3)",
            state.Check(new NodeDetached("n7", "x") { By = Coordinator, CorrelationId = "x" }));
    }

    [Fact]
    public void an_event_with_an_older_term_is_refused()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new FailoverStarted("f1", 3, "lost", "n1", "n2", [], []) { By = Coordinator, CorrelationId = "f1" });
        Assert.Equal("NodeFenced carries term 2, older than the cluster's current term 3",
            scenario.State.Check(new NodeFenced("n1", 2, "ack", null) { By = Coordinator, CorrelationId = "x" }));
    }

    [Fact]
    public void a_stale_fencing_token_is_refused()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new CoordinatorElected("n2", 9) { By = Initiator.Coordinator("n2"), CorrelationId = "e" }, token: 9);
        Assert.Equal("fencing token 8 is older than 9, already used on cluster demo: a newer coordinator has taken over",
            scenario.State.Check(new FailoverPaused("x") { By = Coordinator, CorrelationId = "x" }, fencingToken: 8));
        Assert.Null(scenario.State.Check(new FailoverPaused("x") { By = Coordinator, CorrelationId = "x" }, fencingToken: 9));
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public void impossible_transitions_say_why(ClusterEvent e, string expected)
    {
        Assert.Equal(expected, Scenario.Bootstrapped().State.Check(e));
    }

    public static TheoryData<ClusterEvent, string> Refusals() => new()
    {
        { new NodeJoined(new NodeSpec("n2", "h", 1)) { By = Coordinator, CorrelationId = "x" }, "node n2 is already a member of cluster demo" },
        { new NodeJoined(new NodeSpec("n4", "h", 0)) { By = Coordinator, CorrelationId = "x" }, "node n4 has port 0, outside 1-65535" },
        { new ClusterBootstrapped("demo", "n1", 1, "0/0", [new NodeSpec("n1", "h", 1)]) { By = Coordinator, CorrelationId = "x" }, "cluster demo is already bootstrapped (at version 1)" },
        { new PrimaryChanged(1, "n2", "n1", 1, "0/0") { By = Coordinator, CorrelationId = "x" }, "term 1 already has primary n1; a new primary needs a new term" },
        { new DirectiveSucceeded("nope", "n2", TimeSpan.Zero, "") { By = Coordinator, CorrelationId = "x" }, "directive nope is not pending (unknown, or already answered)" },
        { new FailoverResumed("x") { By = Coordinator, CorrelationId = "x" }, "cluster demo is not paused" },
        { new FailoverCompleted("f9", 1, "n2", TimeSpan.Zero) { By = Coordinator, CorrelationId = "x" }, "failover f9 is not in progress" },
        { new SynchronousStandbysChanged(SynchronousMode.On, 1, ["n8"]) { By = Coordinator, CorrelationId = "x" }, "unknown node 'n8' in synchronous standbys of cluster demo" },
    };

    [Fact]
    public void a_bootstrap_must_list_its_primary_once()
    {
        var state = new ClusterState { Cluster = "demo" };
        Assert.Equal("primary n9 is not among the members of ClusterBootstrapped",
            state.Check(new ClusterBootstrapped("demo", "n9", 1, "0/0", [new NodeSpec("n1", "h", 1)]) { By = Coordinator, CorrelationId = "x" }));
        Assert.Equal("node n1 is listed twice in ClusterBootstrapped",
            state.Check(new ClusterBootstrapped("demo", "n1", 1, "0/0", [new NodeSpec("n1", "h", 1), new NodeSpec("n1", "h", 2)]) { By = Coordinator, CorrelationId = "x" }));
    }
}
