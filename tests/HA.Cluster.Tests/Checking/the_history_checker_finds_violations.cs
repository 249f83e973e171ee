using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using HA.Testing.Checking;

namespace HA.Cluster.Tests.Checking;

/// <summary>
/// The history checker on synthetic histories: a checker that passes everything proves nothing, so
/// each invariant is shown failing on a history that breaks it, and a clean failover is shown passing.
/// </summary>
public sealed class the_history_checker_finds_violations
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);

    // ---- never two writers ----

    [Fact]
    public void a_clean_failover_history_passes_every_check()
    {
        var writes = new Writes()
            .Acked("n1", 0, 5).Acked("n1", 20, 25).Acked("n1", 40, 44)
            .Failed("n2", 0, "25006: cannot execute INSERT in a read-only transaction")
            .Failed("n1", 60, "57P01: terminating connection due to administrator command")
            .Failed("n2", 60, "25006: cannot execute INSERT in a read-only transaction")
            .Failed("n1", 80, "connection refused")
            .Acked("n2", 6000, 6004).Acked("n2", 6020, 6026); // after NodeFenced n1 (version 5, at T0 + 5 s)
        var log = FailoverLog();
        var final = ClusterState.Replay(log.Events.Select(e => (e.Event, e.Stamp)));

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", writes.AckedIds()), log.Events, final);

        Assert.Empty(log.Refused); // every event is one the witness store accepts
        Assert.True(check.IsClean, check.Summary);
        check.AssertClean();
        Assert.Contains("9 write attempt(s), 5 acknowledged", check.Summary, StringComparison.Ordinal);
        Assert.Contains("n1: 3 of 5 acknowledged", check.Summary, StringComparison.Ordinal);
        Assert.Contains("n2: 2 of 4 acknowledged", check.Summary, StringComparison.Ordinal);
        Assert.Contains("violations: none", check.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void two_writers_interleaved_are_reported_with_the_writes_that_prove_it()
    {
        var writes = new Writes()
            .Acked("n1", 0, 5)      // id 1
            .Acked("n2", 10, 15)    // id 2: n2 took writes after n1
            .Acked("n1", 20, 25)    // id 3: n1 again
            .Acked("n2", 30, 35);   // id 4: and n2 again

        var check = HistoryChecker.Check(writes.Attempts);

        var both = Assert.Single(check.Violations, v => v.Kind == ViolationKind.TwoWritersAtOnce);
        Assert.Contains("n1 and n2 both accepted writes from 03:12:00.015000 to 03:12:00.020000", both.Evidence, StringComparison.Ordinal);
        Assert.Contains("n1 id 1", both.Evidence, StringComparison.Ordinal);
        Assert.Contains("n2 id 4", both.Evidence, StringComparison.Ordinal);
        var error = Assert.Throws<HistoryViolation>(check.AssertClean);
        Assert.Contains("TwoWritersAtOnce", error.Message, StringComparison.Ordinal);
        Assert.Contains("FormerWriterReturned", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void an_old_primary_acknowledging_after_the_new_one_is_reported()
    {
        var writes = new Writes()
            .Acked("n1", 0, 5).Acked("n1", 20, 25)
            .Acked("n2", 100, 104)
            .Acked("n1", 110, 112).Acked("n1", 130, 131); // the old primary was never fenced

        var check = HistoryChecker.Check(writes.Attempts);

        var returned = Assert.Single(check.Violations);
        Assert.Equal(ViolationKind.FormerWriterReturned, returned.Kind);
        Assert.Contains("n1 acknowledged 2 write(s) after n2 had taken over", returned.Evidence, StringComparison.Ordinal);
        Assert.Contains("then n2 acked id 3", returned.Evidence, StringComparison.Ordinal);
        Assert.Contains("then n1 acked ids 4, 5", returned.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void writes_whose_windows_overlap_prove_no_order_and_are_not_reported()
    {
        // n1's last commit may have happened before n2's first: nothing is certain, nothing is claimed.
        var writes = new Writes()
            .Acked("n1", 0, 5)
            .Acked("n2", 10, 40)
            .Acked("n1", 20, 50);

        Assert.True(HistoryChecker.Check(writes.Attempts).IsClean);
    }

    // ---- no acknowledged write lost ----

    [Fact]
    public void a_lost_acknowledged_write_is_reported_when_no_loss_is_allowed()
    {
        var writes = new Writes().Acked("n1", 0, 5).Acked("n1", 20, 25).Acked("n2", 100, 104);
        var present = new HashSet<long> { 1, 3 };

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", present));

        var lost = Assert.Single(check.Violations);
        Assert.Equal(ViolationKind.AcknowledgedWriteLost, lost.Kind);
        Assert.Contains("id 2 on n1 acked 03:12:00.025000", lost.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_write_acknowledged_by_the_final_primary_may_never_be_lost_even_with_an_allowance()
    {
        var writes = new Writes().Acked("n1", 0, 5).Acked("n2", 100, 104).Acked("n2", 120, 124);
        var present = new HashSet<long> { 1, 2 };

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", present, AllowedLoss: 10));

        var lost = Assert.Single(check.Violations);
        Assert.Equal(ViolationKind.AcknowledgedWriteLost, lost.Kind);
        Assert.Contains("by the final primary n2 itself", lost.Evidence, StringComparison.Ordinal);
        Assert.Contains("id 3", lost.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_loss_beyond_the_allowance_is_reported()
    {
        var writes = new Writes().Acked("n1", 0, 5).Acked("n1", 20, 25).Acked("n1", 40, 45).Acked("n1", 60, 65).Acked("n2", 100, 104);
        var present = new HashSet<long> { 1, 5 }; // 2, 3 and 4: a tail of n1's writes, one more than allowed

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", present, AllowedLoss: 2));

        var over = Assert.Single(check.Violations);
        Assert.Equal(ViolationKind.LossOverAllowance, over.Kind);
        Assert.Contains("3 acknowledged write(s) of an old primary are missing from n2, over the allowance of 2", over.Evidence, StringComparison.Ordinal);
        Assert.Empty(check.LostWithinBound);
    }

    [Fact]
    public void a_loss_within_the_allowance_passes_and_is_reported_separately()
    {
        var writes = new Writes().Acked("n1", 0, 5).Acked("n1", 20, 25).Acked("n1", 40, 45).Acked("n2", 100, 104);
        var present = new HashSet<long> { 1, 4 };

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", present, AllowedLoss: 2));

        Assert.True(check.IsClean, check.Summary);
        Assert.Equal([2L, 3L], check.LostWithinBound.Select(w => w.Id));
        Assert.Contains("lost within bound: 2, 3", check.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void a_lost_write_that_a_later_surviving_write_of_the_same_node_follows_is_not_covered_by_the_allowance()
    {
        // A promoted replica holds a prefix of the old primary's WAL: a hole in it is not replication lag.
        var writes = new Writes().Acked("n1", 0, 5).Acked("n1", 20, 25).Acked("n1", 40, 45).Acked("n2", 100, 104);
        var present = new HashSet<long> { 1, 3, 4 };

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", present, AllowedLoss: 5));

        var hole = Assert.Single(check.Violations);
        Assert.Equal(ViolationKind.AcknowledgedWriteLost, hole.Kind);
        Assert.Contains("id 2 acked 03:12:00.025000 lost, id 3 sent 03:12:00.040000 kept", hole.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_write_present_but_never_acknowledged_is_not_a_violation()
    {
        // Its commit happened; the answer was lost when the primary crashed.
        var writes = new Writes().Acked("n1", 0, 5).Failed("n1", 20, "connection reset").Acked("n2", 3000, 3004);

        Assert.True(HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n2", new HashSet<long> { 1, 2, 3 })).IsClean);
    }

    // ---- the event log ----

    [Fact]
    public void a_promote_issued_before_the_old_primary_is_fenced_is_reported()
    {
        var log = Log.Bootstrapped()
            .Add(Started("f1", 2, "n1", "n2"))
            .Add(Issued("d1", "n1", DirectiveKind.Fence, 2, "f1"))
            .Add(Issued("d2", "n2", DirectiveKind.Promote, 2, "f1")) // FENCE not even answered
            .Add(new DirectiveSucceeded("d1", "n1", TimeSpan.FromMilliseconds(30), "fenced") { By = Initiator.Agent("n1"), CorrelationId = "f1" })
            .Add(new NodeFenced("n1", 2, "its agent acknowledged FENCE", null) { By = Coordinator, CorrelationId = "f1" });

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events));

        Assert.Equal(ViolationKind.PromoteBeforeFence, violation.Kind);
        Assert.Equal("version 4 (directive_issued, 03:12:04.000000): failover f1 promotes n2 (directive d2) before any NodeFenced for its old primary n1", violation.Evidence);
    }

    [Fact]
    public void a_promote_outside_a_failover_needs_the_primary_fenced_or_demoted_first()
    {
        var early = Log.Bootstrapped().Add(Issued("d1", "n2", DirectiveKind.Promote, 1, "s1"));
        var afterDemote = Log.Bootstrapped()
            .Add(Issued("d1", "n1", DirectiveKind.Demote, 1, "s1"))
            .Add(new DirectiveSucceeded("d1", "n1", TimeSpan.FromSeconds(1), "demoted") { By = Initiator.Agent("n1"), CorrelationId = "s1" })
            .Add(Issued("d2", "n2", DirectiveKind.Promote, 1, "s1"));

        Assert.Equal(ViolationKind.PromoteBeforeFence, Assert.Single(HistoryChecker.EventLog(early.Events)).Kind);
        Assert.Empty(HistoryChecker.EventLog(afterDemote.Events));
    }

    [Fact]
    public void a_primary_term_going_backwards_is_reported()
    {
        var log = FailoverLog()
            .Add(new PrimaryChanged(2, "n3", "n2", 3, "0/6000000") { By = Coordinator, CorrelationId = "manual" });

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events));

        Assert.Equal(ViolationKind.PrimaryTermNotIncreasing, violation.Kind);
        Assert.Contains("names n3 primary of term 2, not after term 2 of n2", violation.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_term_older_than_one_already_seen_is_reported()
    {
        var log = FailoverLog().Add(Issued("d9", "n3", DirectiveKind.Checkpoint, 1, "late"));

        Assert.Equal(ViolationKind.TermWentBack, Assert.Single(HistoryChecker.EventLog(log.Events)).Kind);
    }

    [Fact]
    public void a_fencing_token_going_backwards_is_reported()
    {
        var log = Log.Bootstrapped()
            .Add(new CoordinatorElected("n3", 6) { By = Initiator.Agent("n3"), CorrelationId = "election" }, token: 6)
            .Add(new FailoverPaused("maintenance") { By = Initiator.User("alice"), CorrelationId = "pause" }, token: 5); // a deposed coordinator

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events));

        Assert.Equal(ViolationKind.FencingTokenWentBack, violation.Kind);
        Assert.Contains("appended with fencing token 5, older than 6 used at version 2", violation.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_directive_with_an_older_fencing_token_is_reported()
    {
        var log = Log.Bootstrapped()
            .Add(Issued("d1", "n2", DirectiveKind.Checkpoint, 1, "c1", token: 6))
            .Add(Issued("d2", "n2", DirectiveKind.Checkpoint, 1, "c2", token: 5));

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events));

        Assert.Equal(ViolationKind.FencingTokenWentBack, violation.Kind);
        Assert.Contains("directive d2 carries fencing token 5, older than 6", violation.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_directive_answered_twice_is_reported()
    {
        var log = Log.Bootstrapped()
            .Add(Issued("d1", "n2", DirectiveKind.Checkpoint, 1, "c1"))
            .Add(new DirectiveSucceeded("d1", "n2", TimeSpan.FromMilliseconds(50), "checkpoint done") { By = Initiator.Agent("n2"), CorrelationId = "c1" })
            .Add(new DirectiveFailed("d1", "n2", TimeSpan.FromMilliseconds(70), "timed out") { By = Initiator.Agent("n2"), CorrelationId = "c1" });

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events));

        Assert.Equal(ViolationKind.DirectiveAnsweredTwice, violation.Kind);
        Assert.Contains("first answered at version 3", violation.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void an_answer_to_a_directive_never_issued_or_issued_to_another_node_is_reported()
    {
        var log = Log.Bootstrapped()
            .Add(new DirectiveSucceeded("ghost", "n2", TimeSpan.Zero, "done") { By = Initiator.Agent("n2"), CorrelationId = "c1" })
            .Add(Issued("d1", "n2", DirectiveKind.Checkpoint, 1, "c2"))
            .Add(new DirectiveSucceeded("d1", "n3", TimeSpan.Zero, "done") { By = Initiator.Agent("n3"), CorrelationId = "c2" });

        Assert.Equal([ViolationKind.DirectiveAnsweredUnissued, ViolationKind.DirectiveAnsweredUnissued],
            HistoryChecker.EventLog(log.Events).Select(v => v.Kind));
    }

    [Fact]
    public void a_failover_started_during_another_is_reported()
    {
        var log = Log.Bootstrapped()
            .Add(Started("f1", 2, "n1", "n2"))
            .Add(Started("f2", 3, "n1", "n3"));

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events));

        Assert.Equal(ViolationKind.OverlappingFailovers, violation.Kind);
        Assert.Contains("failover f2 started while failover f1 (version 2) was still in progress", violation.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void a_gap_in_versions_is_reported()
    {
        var log = Log.Bootstrapped().Skip().Add(new FailoverPaused("maintenance") { By = Initiator.User("alice"), CorrelationId = "pause" });

        Assert.Equal(ViolationKind.VersionNotConsecutive, Assert.Single(HistoryChecker.EventLog(log.Events)).Kind);
    }

    [Fact]
    public void a_final_state_the_events_do_not_replay_to_is_reported()
    {
        var log = FailoverLog();
        var other = ClusterState.Replay(log.Events.Select(e => (e.Event, e.Stamp)));
        other.Primary = "n3";

        var violation = Assert.Single(HistoryChecker.EventLog(log.Events, other));

        Assert.Equal(ViolationKind.ReplayMismatch, violation.Kind);
        Assert.Contains("gives primary n2 of term 2", violation.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void with_several_failovers_a_writer_may_return_in_a_later_tenure()
    {
        // n1 writes until it is fenced (T0 + 5 s), n2 from then until it is fenced (T0 + 15 s), n1 again after.
        var writes = new Writes().Acked("n1", 0, 5).Acked("n1", 4000, 4004).Acked("n2", 6000, 6004).Acked("n2", 14000, 14004).Acked("n1", 16000, 16004);
        var log = TwoFailoversLog();
        var final = ClusterState.Replay(log.Events.Select(e => (e.Event, e.Stamp)));

        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n1", writes.AckedIds()), log.Events, final);

        Assert.Empty(log.Refused);
        Assert.True(check.IsClean, check.Summary);
    }

    [Fact]
    public void a_write_acknowledged_by_a_fenced_primary_or_by_its_successor_before_the_fence_is_reported()
    {
        var afterFence = new Writes().Acked("n1", 0, 5).Acked("n2", 6000, 6004).Acked("n1", 7000, 7004).Acked("n2", 8000, 8004).Acked("n1", 16000, 16004);
        var beforeFence = new Writes().Acked("n1", 0, 5).Acked("n2", 3000, 3004).Acked("n2", 8000, 8004).Acked("n1", 16000, 16004);

        var late = HistoryChecker.Check(afterFence.Attempts, events: TwoFailoversLog().Events);
        var early = HistoryChecker.Check(beforeFence.Attempts, events: TwoFailoversLog().Events);

        Assert.Contains("id 3", Assert.Single(late.Violations, v => v.Kind == ViolationKind.WriteOutsideTenure).Evidence, StringComparison.Ordinal);
        Assert.Contains("id 2", Assert.Single(early.Violations, v => v.Kind == ViolationKind.WriteOutsideTenure).Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void with_several_failovers_only_a_replaced_primarys_tail_may_be_lost()
    {
        var writes = new Writes().Acked("n1", 0, 5).Acked("n1", 4000, 4004).Acked("n2", 6000, 6004).Acked("n2", 14000, 14004).Acked("n1", 16000, 16004).Acked("n1", 17000, 17004);
        var tailOfN2 = writes.AckedIds().Where(id => id != 4).ToHashSet();
        var holeInN1 = writes.AckedIds().Where(id => id != 1).ToHashSet();
        var lastOfN1 = writes.AckedIds().Where(id => id != 6).ToHashSet();

        Assert.True(HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n1", tailOfN2, 1), TwoFailoversLog().Events).IsClean);
        Assert.True(HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n1", holeInN1, 1), TwoFailoversLog().Events).Has(ViolationKind.AcknowledgedWriteLost));
        Assert.True(HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n1", lastOfN1, 1), TwoFailoversLog().Events).Has(ViolationKind.AcknowledgedWriteLost));
        Assert.True(HistoryChecker.Check(writes.Attempts, new SurvivingWrites("n1", tailOfN2, 0), TwoFailoversLog().Events).Has(ViolationKind.LossOverAllowance));
    }

    [Fact]
    public void a_tenure_begins_at_the_first_fence_of_the_old_primary_even_when_that_failover_attempt_failed()
    {
        // f1 fences n1 (version 5, T0 + 5 s) and its PROMOTE of n2 is answered too late; f2 fences n1 again
        // (version 11, T0 + 11 s) and records n2 as primary. n2 took writes from its promotion in f1.
        var log = Log.Bootstrapped()
            .Add(Started("f1", 2, "n1", "n2"))
            .Add(Issued("d1", "n1", DirectiveKind.Fence, 2, "f1"))
            .Add(new DirectiveSucceeded("d1", "n1", TimeSpan.FromMilliseconds(10), "already stopped") { By = Initiator.Agent("n1"), CorrelationId = "f1" })
            .Add(new NodeFenced("n1", 2, "its agent acknowledged FENCE", null) { By = Coordinator, CorrelationId = "f1" })
            .Add(Issued("d2", "n2", DirectiveKind.Promote, 2, "f1"))
            .Add(new DirectiveExpired("d2", "n2", DirectiveKind.Promote, 1, false, "no answer") { By = Coordinator, CorrelationId = "d2" })
            .Add(new FailoverFailed("f1", 2, "PROMOTE of n2 expired", TimeSpan.FromSeconds(30)) { By = Coordinator, CorrelationId = "f1" })
            .Add(Started("f2", 3, "n1", "n2"))
            .Add(Issued("d3", "n1", DirectiveKind.Fence, 3, "f2"))
            .Add(new NodeFenced("n1", 3, "its primary lease expired or was released", null) { By = Coordinator, CorrelationId = "f2" })
            .Add(Issued("d4", "n2", DirectiveKind.Promote, 3, "f2"))
            .Add(new DirectiveSucceeded("d4", "n2", TimeSpan.FromMilliseconds(5), "already primary on timeline 2") { By = Initiator.Agent("n2"), CorrelationId = "f2" })
            .Add(new PrimaryChanged(3, "n2", "n1", 2, "0/5000100") { By = Coordinator, CorrelationId = "f2" })
            .Add(new FailoverCompleted("f2", 3, "n2", TimeSpan.FromSeconds(2)) { By = Coordinator, CorrelationId = "f2" });
        var afterFirstFence = new Writes().Acked("n1", 0, 5).Acked("n1", 4000, 4004).Acked("n2", 6000, 6004).Acked("n2", 12000, 12004);
        var beforeAnyFence = new Writes().Acked("n1", 0, 5).Acked("n2", 3000, 3004).Acked("n2", 12000, 12004);

        Assert.Empty(log.Refused);
        Assert.Empty(HistoryChecker.WritesWithinTenures(afterFirstFence.Attempts, HistoryChecker.Tenures(log.Events)));
        Assert.Single(HistoryChecker.WritesWithinTenures(beforeAnyFence.Attempts, HistoryChecker.Tenures(log.Events)));
    }

    // ---- histories ----

    /// <summary><see cref="FailoverLog"/>, then n2 fails and n1 (rewound) takes over again in term 3; n2 is fenced at version 15 (T0 + 15 s).</summary>
    private static Log TwoFailoversLog() => FailoverLog()
        .Add(Started("f2", 3, "n2", "n1"))
        .Add(Issued("d4", "n2", DirectiveKind.Fence, 3, "f2"))
        .Add(new DirectiveSucceeded("d4", "n2", TimeSpan.FromMilliseconds(30), "stopped") { By = Initiator.Agent("n2"), CorrelationId = "f2" })
        .Add(new NodeFenced("n2", 3, "its agent acknowledged FENCE", null) { By = Coordinator, CorrelationId = "f2" })
        .Add(Issued("d5", "n1", DirectiveKind.Promote, 3, "f2"))
        .Add(new DirectiveSucceeded("d5", "n1", TimeSpan.FromMilliseconds(600), "promoted on timeline 3") { By = Initiator.Agent("n1"), CorrelationId = "f2" })
        .Add(new PrimaryChanged(3, "n1", "n2", 3, "0/6000100") { By = Coordinator, CorrelationId = "f2" })
        .Add(new FailoverCompleted("f2", 3, "n1", TimeSpan.FromSeconds(4)) { By = Coordinator, CorrelationId = "f2" });

    private static readonly Initiator Coordinator = Initiator.Coordinator("n3");

    /// <summary>n1 crashes; n3's coordinator fences it, promotes n2 and repoints n3: what FailoverSteps appends.</summary>
    private static Log FailoverLog() => Log.Bootstrapped()
        .Add(Started("f1", 2, "n1", "n2"))
        .Add(Issued("d1", "n1", DirectiveKind.Fence, 2, "f1"))
        .Add(new DirectiveFailed("d1", "n1", TimeSpan.FromMilliseconds(400), "agent unreachable") { By = Coordinator, CorrelationId = "f1" })
        .Add(new NodeFenced("n1", 2, "its primary lease expired", null) { By = Coordinator, CorrelationId = "f1" })
        .Add(Issued("d2", "n2", DirectiveKind.Promote, 2, "f1"))
        .Add(new DirectiveSucceeded("d2", "n2", TimeSpan.FromMilliseconds(600), "promoted on timeline 2") { By = Initiator.Agent("n2"), CorrelationId = "f1" })
        .Add(new PrimaryChanged(2, "n2", "n1", 2, "0/5000100") { By = Coordinator, CorrelationId = "f1" })
        .Add(Issued("d3", "n3", DirectiveKind.Repoint, 2, "f1"))
        .Add(new FailoverCompleted("f1", 2, "n2", TimeSpan.FromSeconds(4)) { By = Coordinator, CorrelationId = "f1" })
        .Add(new DirectiveSucceeded("d3", "n3", TimeSpan.FromMilliseconds(80), "following n2") { By = Initiator.Agent("n3"), CorrelationId = "f1" });

    private static FailoverStarted Started(string id, long term, string old, string candidate) =>
        new(id, term, "primary n1 unreachable from 2 of 2 observers", old, candidate,
            [new CandidateAssessment(candidate, "0/5000000", 0, 0, null)], [new Observation("n3", old, false, "connection refused")])
        { By = Coordinator, CorrelationId = id };

    private static DirectiveIssued Issued(string id, string node, DirectiveKind kind, long term, string operation, long token = 5) =>
        new(id, node, kind, term, token, T0.AddMinutes(2), Of(kind)) { By = Coordinator, CorrelationId = operation };

    private static Directive Of(DirectiveKind kind) => kind switch
    {
        DirectiveKind.Fence => new Fence(),
        DirectiveKind.Promote => new Promote(null),
        DirectiveKind.Demote => new Demote("n2"),
        DirectiveKind.Repoint => new Repoint("n2"),
        DirectiveKind.Checkpoint => new Checkpoint(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not used by these tests"),
    };

    /// <summary>A stream as the witness store would stamp it; <see cref="Refused"/> says what its checks would have refused.</summary>
    private sealed class Log
    {
        private readonly ClusterState _state = new();
        private long _version;

        public List<RecordedEvent> Events { get; } = [];

        public List<string> Refused { get; } = [];

        public static Log Bootstrapped() => new Log().Add(
            new ClusterBootstrapped("demo", "n1", 1, "0/3000000", [new NodeSpec("n1", "127.0.0.1", 5501), new NodeSpec("n2", "127.0.0.1", 5502), new NodeSpec("n3", "127.0.0.1", 5503)])
            { By = Initiator.System, CorrelationId = "bootstrap" }, token: null);

        public Log Add(ClusterEvent e, long? token = 5)
        {
            if (_state.Check(e, token) is { } problem) Refused.Add(problem);
            var recorded = new RecordedEvent("demo", ++_version, _version, T0.AddSeconds(_version), token, e);
            _state.Apply(e, recorded.Stamp);
            Events.Add(recorded);
            return this;
        }

        public Log Skip()
        {
            _version++;
            return this;
        }
    }

    /// <summary>Write attempts with ids in order of creation and times in milliseconds after <see cref="T0"/>.</summary>
    private sealed class Writes
    {
        public List<WriteAttempt> Attempts { get; } = [];

        public Writes Acked(string node, int sentMs, int ackedMs)
        {
            Attempts.Add(new WriteAttempt(Attempts.Count + 1, node, T0.AddMilliseconds(sentMs), T0.AddMilliseconds(ackedMs), null));
            return this;
        }

        public Writes Failed(string node, int sentMs, string error)
        {
            Attempts.Add(new WriteAttempt(Attempts.Count + 1, node, T0.AddMilliseconds(sentMs), null, error));
            return this;
        }

        public IReadOnlySet<long> AckedIds() => Attempts.Where(a => a.Acknowledged).Select(a => a.Id).ToHashSet();
    }
}
