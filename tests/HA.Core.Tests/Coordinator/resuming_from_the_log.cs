using HA.Core.Directives;
using HA.Core.Coordinator;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.State;

namespace HA.Core.Tests.Coordinator;

/// <summary>
/// DESIGN §3.4: a new coordinator resumes an interrupted failover or switchover from the log. A whole
/// operation is recorded by driving the policy round by round; then, for every prefix of that log, a
/// successor with empty memory takes office and must decide exactly what the original decided next.
/// </summary>
public sealed class resuming_from_the_log
{
    /// <summary>One round of the original coordinator: how long the log was, what it saw, what it decided.</summary>
    private sealed record Round(int LogLength, CoordinatorEvidence Evidence, Decision Decision);

    private static Round Decide(CoordinatorRig rig, List<Round> rounds)
    {
        var length = rig.Scenario.History.Count;
        var evidence = rig.Evidence();
        (var decision, rig.Memory) = CoordinatorPolicy.Decide(rig.State, evidence, rig.Memory);
        foreach (var e in decision.Events) rig.Scenario.Append(e, rig.Token);
        var round = new Round(length, evidence, decision);
        rounds.Add(round);
        rig.Advance(1);
        return round;
    }

    [Fact]
    public void a_coordinator_killed_at_any_step_of_a_failover_is_resumed_by_its_successor_from_the_log_alone()
    {
        var rig = CoordinatorRig.Settled();
        var rounds = new List<Round>();
        rig.Down("n1", rig.Now.AddSeconds(-10));
        rig.Standby("n3", "n1", "0/4FFFF00");
        rig.Position = new RecordedPrimaryPosition("n1", Lsn("0/5000010"));

        Assert.IsType<FailoverStarted>(Decide(rig, rounds).Decision.Events[0]);
        Assert.Equal("waiting for n1 to acknowledge FENCE or for its primary lease to expire", Decide(rig, rounds).Decision.Why);
        rig.Answer(DirectiveKind.Fence);
        Assert.IsType<NodeFenced>(Assert.Single(Decide(rig, rounds).Decision.Events));
        Assert.Equal("promoting n2", Decide(rig, rounds).Decision.Why);
        Assert.Equal("waiting for n2 to finish PROMOTE", Decide(rig, rounds).Decision.Why);
        rig.Answer(DirectiveKind.Promote, detail: "promoted", outcome: new Promoted(2, "0/5000200"));
        rig.LeaseHolder = "n2";
        rig.Primary("n2", "0/5000100", timeline: 2);
        var done = Decide(rig, rounds).Decision;
        Assert.Equal("n2 is the primary of term 2; repointing the other replicas", done.Why);
        Assert.Null(rig.State.Failover);

        AssertResumedAtEveryStep(rig, rounds, (state, evidence) =>
            // After FailoverStarted nothing but the log is needed: a successor that never heard the old
            // primary nor read its recorded position decides the same.
            state.Failover is null ? evidence : evidence with { PrimaryPosition = null, Heartbeats = evidence.Heartbeats.Where(b => b.Key != "n1").ToDictionary() });
    }

    [Fact]
    public void a_coordinator_killed_at_any_step_of_a_switchover_is_resumed_by_its_successor_from_the_log_alone()
    {
        var rig = CoordinatorRig.Settled();
        var rounds = new List<Round>();
        rig.Scenario.Append(new SwitchoverRequested("s1", "n1", "n2", null) { By = Initiator.User("alice"), CorrelationId = "s1" });

        Assert.Equal([(DirectiveKind.Checkpoint, "n1")], CoordinatorRig.Directives(Decide(rig, rounds).Decision));
        Assert.Equal("waiting for CHECKPOINT on n1", Decide(rig, rounds).Decision.Why);
        rig.Answer(DirectiveKind.Checkpoint);
        Assert.Equal([(DirectiveKind.Demote, "n1")], CoordinatorRig.Directives(Decide(rig, rounds).Decision));
        Assert.Equal("waiting for n1 to demote", Decide(rig, rounds).Decision.Why);
        rig.LeaseHolder = null;
        rig.Standby("n1", "n2", "0/5000100");
        rig.Answer(DirectiveKind.Demote, detail: "demoted at final LSN 0/5000100; following n2", outcome: new Demoted("0/5000100", "n2"));
        Assert.Equal([(DirectiveKind.Promote, "n2")], CoordinatorRig.Directives(Decide(rig, rounds).Decision));
        Assert.Equal("waiting for n2 to finish PROMOTE", Decide(rig, rounds).Decision.Why);
        rig.Answer(DirectiveKind.Promote, detail: "promoted", outcome: new Promoted(2, "0/5000200"));
        rig.LeaseHolder = "n2";
        rig.Primary("n2", "0/5000200", timeline: 2);
        rig.Standby("n1", "n2", "0/5000200", timeline: 2);
        Assert.IsType<SwitchoverCompleted>(Decide(rig, rounds).Decision.Events[^1]);
        Assert.Null(rig.State.Switchover);

        AssertResumedAtEveryStep(rig, rounds, (_, evidence) => evidence);
    }

    /// <summary>
    /// For every prefix of the log from the first recorded round on, a successor (n3, token 8, empty memory)
    /// replays it, takes office, and decides on the evidence the original had: it must decide the same.
    /// </summary>
    private static void AssertResumedAtEveryStep(CoordinatorRig rig, List<Round> rounds, Func<ClusterState, CoordinatorEvidence, CoordinatorEvidence> successorSees)
    {
        // Every prefix is covered: the log grows only by the original's appends (atomic: no prefix ends inside
        // one) and the agents' answers, each followed by a recorded round.
        var start = rounds[0].LogLength;
        var covered = rounds.SelectMany(r => Enumerable.Range(r.LogLength, Math.Max(1, r.Decision.Events.Count))).ToHashSet();
        Assert.All(Enumerable.Range(start, rig.Scenario.History.Count - start), length => Assert.Contains(length, covered));

        foreach (var round in rounds)
        {
            var state = ClusterState.Replay(rig.Scenario.History.Take(round.LogLength));
            var ids = 0;
            var evidence = successorSees(state, round.Evidence with { Node = "n3", Token = 8, NewId = () => $"successor{++ids}" });

            var (takeOffice, memory) = CoordinatorPolicy.Decide(state, evidence, CoordinatorMemory.Empty);
            var elected = Assert.IsType<CoordinatorElected>(Assert.Single(takeOffice.Events));
            Assert.Null(state.Check(elected, 8));
            state.Apply(elected, new EventStamp(state.Version + 1, round.Evidence.Now, 8));

            var (resumed, _) = CoordinatorPolicy.Decide(state, evidence, memory);

            Assert.Equal(round.Decision.Why, resumed.Why);
            Assert.Equal(round.Decision.Events.Select(Shape), resumed.Events.Select(Shape));
        }
    }

    /// <summary>An event without what only names its author (ids, initiator, token), as comparable text.</summary>
    private static string Shape(ClusterEvent e) => e switch
    {
        DirectiveIssued d => $"{d.Kind} {d.Node} term {d.Term} until {d.ExpiresAt:O} {Arguments(d)}",
        FailoverStarted f => $"failover_started term {f.Term} {f.OldPrimary} -> {f.Candidate}: {f.Trigger} ({f.TriggerKind}) against {f.ReferenceLsn}; "
            + string.Join("; ", f.Candidates.Select(c => $"{c.Node} {c.ReceivedLsn} {c.LagBytes} {c.Rejection} {c.RejectedBecause}")),
        NodeFenced n => $"node_fenced {n.Node} {n.Term} {n.How}",
        PrimaryChanged p => $"primary_changed {p.Term} {p.Node} from {p.Previous} timeline {p.Timeline} at {p.Lsn}",
        NodeRejoined r => $"node_rejoined {r.Node} {r.Method} {r.Timeline} {r.Duration}",
        FailoverCompleted c => $"failover_completed {c.FailoverId} {c.Term} {c.NewPrimary} {c.Duration}",
        FailoverFailed f => $"failover_failed {f.FailoverId} {f.Reason}",
        SwitchoverCompleted s => $"switchover_completed {s.SwitchoverId} {s.From} -> {s.To} {s.Duration} {s.WritePause}",
        SwitchoverFailed s => $"switchover_failed {s.SwitchoverId} {s.Reason}",
        _ => EventTypes.NameOf(e),
    };

    // What the directive carries: records compare by value, so their text is a faithful shape.
    private static string Arguments(DirectiveIssued d) => d.Directive.ToString();

    private static HA.Core.Replication.Lsn Lsn(string text) => HA.Core.Replication.Lsn.Parse(text);
}
