using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.History;

namespace HA.Core.Tests.History;

public sealed class telling_a_failover_story
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private static readonly Initiator Coordinator = Initiator.Coordinator("n3");

    private static RecordedEvent At(int version, int ms, ClusterEvent e) => new("demo", version, version, T0.AddMilliseconds(ms), 5, e);

    [Fact]
    public void names_the_trigger_every_candidate_with_its_reason_each_directive_and_the_outcome()
    {
        var events = new[]
        {
            At(10, 0, new FailoverStarted("f1", 2, "primary n1 unreachable from 2 of 2 observers for 3s", "n1", "n2",
                [new CandidateAssessment("n2", "0/5000000", 0, 0, null), new CandidateAssessment("n3", "0/4FFFF00", 256, 0, "received LSN 0/4FFFF00 is behind n2's 0/5000000")],
                [new Observation("n2", "n1", false, "connection refused"), new Observation("n3", "n1", false, "timeout")]) { By = Coordinator, CorrelationId = "f1" }),
            At(11, 5, new DirectiveIssued("d1", "n1", DirectiveKind.Fence, 2, 5, T0.AddSeconds(10), new Fence()) { By = Coordinator, CorrelationId = "f1" }),
            At(12, 400, new DirectiveFailed("d1", "n1", TimeSpan.FromMilliseconds(395), "agent unreachable") { By = Coordinator, CorrelationId = "f1" }),
            At(13, 3000, new NodeFenced("n1", 2, "lease expired", null) { By = Coordinator, CorrelationId = "f1" }),
            At(14, 3010, new DirectiveIssued("d2", "n2", DirectiveKind.Promote, 2, 5, T0.AddSeconds(20), new Promote(null)) { By = Coordinator, CorrelationId = "f1" }),
            At(15, 3600, new DirectiveSucceeded("d2", "n2", TimeSpan.FromMilliseconds(590), "promoted on timeline 2") { By = Initiator.Agent("n2"), CorrelationId = "f1" }),
            At(16, 3610, new PrimaryChanged(2, "n2", "n1", 2, "0/5000100") { By = Coordinator, CorrelationId = "f1" }),
            At(17, 3620, new FailoverCompleted("f1", 2, "n2", TimeSpan.FromMilliseconds(3620)) { By = Coordinator, CorrelationId = "f1" }),
        };

        var story = FailoverStory.From("f1", events.Reverse())!;

        Assert.Equal("primary n1 unreachable from 2 of 2 observers for 3s", story.Trigger);
        Assert.Equal(("n1", "n2", "n2"), (story.OldPrimary, story.Chosen, story.NewPrimary));
        Assert.Equal("received LSN 0/4FFFF00 is behind n2's 0/5000000", story.Candidates.Single(c => c.Node == "n3").RejectedBecause);
        Assert.Equal(2, story.Observations.Count);
        Assert.Equal(
            [("d1", DirectiveKind.Fence, "failed", "agent unreachable"), ("d2", DirectiveKind.Promote, "succeeded", "promoted on timeline 2")],
            story.Directives.Select(d => (d.DirectiveId, d.Kind, d.Outcome, d.Detail)));
        Assert.Equal(TimeSpan.FromMilliseconds(590), story.Directives[1].Duration);
        Assert.Equal(T0.AddMilliseconds(3610), story.PrimaryChangedAt);
        Assert.Equal(("completed", TimeSpan.FromMilliseconds(3620)), (story.Outcome, story.Duration));
        Assert.Equal(Enumerable.Range(10, 8).Select(v => (long)v), story.Events.Select(e => e.Version));
    }

    [Fact]
    public void an_unfinished_failover_is_in_progress_with_pending_directives()
    {
        var story = FailoverStory.From("f2", [
            At(1, 0, new FailoverStarted("f2", 3, "lease expired", "n2", "n1", [], []) { By = Coordinator, CorrelationId = "f2" }),
            At(2, 1, new DirectiveIssued("d9", "n1", DirectiveKind.Promote, 3, 5, T0, new Promote(null)) { By = Coordinator, CorrelationId = "f2" }),
        ])!;
        Assert.Equal("in progress", story.Outcome);
        Assert.Equal("pending", story.Directives.Single().Outcome);
        Assert.Null(story.NewPrimary);
    }

    [Fact]
    public void an_id_that_never_started_has_no_story()
    {
        Assert.Null(FailoverStory.From("nope", []));
    }
}

public sealed class naming_event_types
{
    [Fact]
    public void every_event_type_has_a_unique_snake_case_name_that_maps_back()
    {
        Assert.Equal("node_joined", EventTypes.NameOf(typeof(NodeJoined)));
        Assert.Equal("postgres_parameters_changed", EventTypes.NameOf(typeof(PostgresParametersChanged)));
        Assert.Equal(EventTypes.All.Count, EventTypes.Names.Count());
        Assert.All(EventTypes.All, t => Assert.Equal(t, EventTypes.TypeOf(EventTypes.NameOf(t))));
        var concrete = typeof(ClusterEvent).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(ClusterEvent)) && !t.IsAbstract);
        Assert.Equal(concrete.OrderBy(t => t.Name), EventTypes.All.OrderBy(t => t.Name));
    }

    [Fact]
    public void the_nodes_an_event_concerns_include_failover_candidates()
    {
        var e = new FailoverStarted("f", 2, "x", "n1", "n2", [new CandidateAssessment("n3", null, null, 0, "lag")], []) { By = Initiator.System, CorrelationId = "f" };
        Assert.Equal(["n1", "n2", "n3"], EventTypes.NodesOf(e));
        Assert.Equal(["n4"], EventTypes.NodesOf(new NodeAttached("n4") { By = Initiator.System, CorrelationId = "a" }));
    }
}
