using HA.Core.Coordinator;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Coordinator;

public sealed class deciding_as_the_coordinator
{
    private static readonly Initiator Alice = Initiator.User("alice");

    // --- bootstrap and office -------------------------------------------------------------------

    [Fact]
    public void a_cluster_without_history_is_bootstrapped_only_when_exactly_one_member_accepts_writes()
    {
        var rig = new CoordinatorRig(new Scenario());
        rig.Standby("n1", null, "0/3000000");
        rig.Standby("n2", null, "0/3000000");
        CoordinatorEvidence Evidence() => rig.Evidence() with { Members = [new NodeSpec("n1", "h", 1), new NodeSpec("n2", "h", 2)] };

        var waiting = CoordinatorPolicy.Decide(null, Evidence(), CoordinatorMemory.Empty).Decision;
        Assert.Equal("cluster demo has no history yet: waiting for a member to report a running primary", waiting.Why);

        rig.Primary("n1", "0/3000060");
        rig.Primary("n2", "0/3000060");
        Assert.Empty(CoordinatorPolicy.Decide(null, Evidence(), CoordinatorMemory.Empty).Decision.Events);

        rig.Standby("n2", null, "0/3000000");
        var bootstrap = CoordinatorPolicy.Decide(null, Evidence(), CoordinatorMemory.Empty).Decision;
        var bootstrapped = Assert.IsType<ClusterBootstrapped>(bootstrap.Events[0]);
        Assert.Equal(("n1", "0/3000060", 2), (bootstrapped.Primary, bootstrapped.Lsn, bootstrapped.Members.Count));
        Assert.Equal(new CoordinatorElected("n1", 7) { By = Initiator.Coordinator("n1"), CorrelationId = "bootstrap-7" }, bootstrap.Events[1]);
    }

    [Fact]
    public void a_new_coordinator_takes_office_before_deciding_anything_else()
    {
        var rig = CoordinatorRig.Settled();
        rig.LeaseHolder = null;
        rig.Silence("n1");
        rig.Advance(30);
        var successor = rig.Evidence() with { Node = "n2", Token = 8 };

        var (decision, memory) = CoordinatorPolicy.Decide(rig.State, successor, CoordinatorMemory.Empty);

        Assert.Equal("n2 takes office as coordinator with token 8", decision.Why);
        Assert.IsType<CoordinatorElected>(Assert.Single(decision.Events));
        Assert.Equal(rig.Now, memory.InOfficeSince);
    }

    // --- the primary lease's grace --------------------------------------------------------------

    [Fact]
    public void a_free_primary_lease_counts_as_held_for_twice_the_heartbeat_freshness_while_the_primary_says_it_serves()
    {
        var rig = CoordinatorRig.Settled(); // heartbeat freshness 2 s: a grace of 4 s
        rig.LeaseHolder = null;

        Assert.Equal("primary n1 is healthy", rig.Step().Why);
        rig.Advance(3.9);
        Assert.Equal("primary n1 is healthy", rig.Step().Why);
        rig.Advance(0.1);
        var failover = Assert.IsType<FailoverStarted>(rig.Step().Events[0]);
        Assert.Equal(("the primary lease of n1 expired", FailureTrigger.LeaseExpired), (failover.Trigger, failover.TriggerKind));
    }

    [Fact]
    public void the_lease_grace_starts_again_once_the_primary_held_its_lease()
    {
        var rig = CoordinatorRig.Settled();
        rig.LeaseHolder = null;
        rig.Step();
        rig.Advance(3);
        rig.Step();
        rig.LeaseHolder = "n1";
        rig.Advance(0.5);
        rig.Step();
        rig.LeaseHolder = null;
        rig.Advance(0.5);
        Assert.Equal("primary n1 is healthy", rig.Step().Why);
        rig.Advance(3.9);
        Assert.Empty(rig.Step().Events);
    }

    [Fact]
    public void a_free_primary_lease_is_expired_at_once_when_the_primary_does_not_say_it_serves()
    {
        var rig = CoordinatorRig.Settled();
        rig.LeaseHolder = null;
        rig.Silence("n1");
        rig.Advance(2.1); // its last heartbeat is no longer fresh

        var failover = Assert.IsType<FailoverStarted>(rig.Step().Events[0]);
        Assert.Equal(FailureTrigger.LeaseExpired, failover.TriggerKind);
        Assert.Equal([(DirectiveKind.Fence, "n1")], CoordinatorRig.Directives(rig.Decisions[^1].Decision));
    }

    // --- stray and diverged replicas, back-offs -------------------------------------------------

    [Fact]
    public void a_replica_following_another_node_is_repointed_after_5_s_and_rewound_after_two_repoints()
    {
        var rig = CoordinatorRig.Settled();
        rig.Standby("n3", "n2", "0/5000000");

        Assert.Empty(CoordinatorRig.Directives(rig.Step())); // its replication is recorded as stopped
        Assert.Equal(ReplicationStatus.Stopped, rig.State.Nodes["n3"].Replication);
        rig.Advance(4.9);
        Assert.Empty(rig.Step().Events);
        rig.Advance(0.1);
        var first = rig.Step();
        Assert.Equal([(DirectiveKind.Repoint, "n3")], CoordinatorRig.Directives(first));
        Assert.Equal("n3 streams from n2, not from n1: REPOINT (attempt 1)", first.Why);
        rig.Answer(DirectiveKind.Repoint);

        rig.Advance(9.9); // it still does not follow, but was given a directive less than 10 s ago
        Assert.Empty(rig.Step().Events);
        rig.Advance(0.1);
        Assert.Equal("n3 streams from n2, not from n1: REPOINT (attempt 2)", rig.Step().Why);
        rig.Answer(DirectiveKind.Repoint);

        rig.Advance(10);
        var rewind = rig.Step();
        Assert.Equal([(DirectiveKind.Rewind, "n3")], CoordinatorRig.Directives(rewind));
        Assert.Equal("n3 streams from n2, not from n1: REWIND (attempt 3)", rewind.Why);
        Assert.Equal(rig.Settings.RejoinTimeout, rig.State.PendingDirectives.Values.Single().ExpiresAt - rig.Now);
        rig.Answer(DirectiveKind.Rewind);

        // Once it follows, its attempts are forgotten: straying again starts with a REPOINT.
        rig.Standby("n3", "n1", "0/5000000");
        rig.Advance(10);
        rig.Step();
        Assert.Equal(ReplicationStatus.Streaming, rig.State.Nodes["n3"].Replication);
        rig.Standby("n3", "n2", "0/5000000");
        rig.Step();
        rig.Advance(5);
        Assert.Equal("n3 streams from n2, not from n1: REPOINT (attempt 1)", rig.Step().Why);
    }

    [Fact]
    public void a_replica_connected_to_the_primary_on_an_older_timeline_has_diverged_and_is_repointed_then_rewound()
    {
        var rig = CoordinatorRig.Settled();
        rig.Primary("n1", "0/6000000", timeline: 2);
        rig.Standby("n2", "n1", "0/6000000", timeline: 2);
        rig.Standby("n3", "n1", "0/5800000", timeline: 1);

        rig.Step();
        Assert.Equal(ReplicationStatus.Stopped, rig.State.Nodes["n3"].Replication); // it serves no reads
        rig.Advance(5);
        Assert.Equal("n3 connects to n1 but stays on timeline 1 (n1 is on 2): REPOINT (attempt 1)", rig.Step().Why);
        rig.Answer(DirectiveKind.Repoint);
        rig.Advance(10);
        rig.Step();
        rig.Answer(DirectiveKind.Repoint);
        rig.Advance(10);
        Assert.Equal([(DirectiveKind.Rewind, "n3")], CoordinatorRig.Directives(rig.Step()));
    }

    [Fact]
    public void a_diverged_replica_is_not_made_a_synchronous_standby()
    {
        var rig = CoordinatorRig.Settled(settings: new CoordinatorSettings { Synchronous = new SynchronousSettings { Mode = SynchronousMode.On } });
        Assert.Equal(["n2"], rig.State.SynchronousStandbys);
        rig.Primary("n1", "0/5000000", timeline: 2);
        rig.Standby("n2", "n1", "0/5000000", timeline: 1);
        rig.Standby("n3", "n1", "0/5000000", timeline: 2);
        rig.Step(); // n2's replication recorded as stopped
        Assert.Empty(rig.Step().Events); // it streamed from n1: it counts for failure_timeout
        rig.Advance(3);

        rig.Settle();

        Assert.Equal(["n3"], rig.State.SynchronousStandbys);
    }

    [Fact]
    public void a_node_given_a_directive_is_left_alone_for_10_s_after_it()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new ReinitializeRequested("n3", "disk replaced") { By = Alice, CorrelationId = "r" });
        Assert.Equal([(DirectiveKind.Reinitialize, "n3")], CoordinatorRig.Directives(rig.Step()));
        rig.Answer(DirectiveKind.Reinitialize, success: false, detail: "pg_basebackup failed");

        rig.Advance(9.9);
        Assert.Empty(rig.Step().Events);
        rig.Advance(0.1);
        var again = rig.Step();
        Assert.Equal([(DirectiveKind.Reinitialize, "n3")], CoordinatorRig.Directives(again));
        Assert.Equal("reinitializing n3 from n1 as requested (disk replaced)", again.Why);
    }

    [Fact]
    public void a_former_primary_that_is_back_is_rewound_to_the_new_primary()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new PrimaryChanged(2, "n2", "n1", 2, "0/5000000") { By = Initiator.Coordinator("n1"), CorrelationId = "f" });
        rig.Primary("n2", "0/5000100", timeline: 2);
        rig.Standby("n1", null, "0/5000000");
        rig.Standby("n3", "n2", "0/5000100", timeline: 2);

        var decision = rig.Step();

        Assert.Equal([(DirectiveKind.Rewind, "n1")], CoordinatorRig.Directives(decision));
        Assert.StartsWith("rejoining former primary n1 to n2 (rewind)", decision.Why, StringComparison.Ordinal);
    }

    // --- synchronous standbys -------------------------------------------------------------------

    [Fact]
    public void a_failing_change_of_synchronous_standby_names_is_sent_again_only_after_a_second()
    {
        var rig = CoordinatorRig.Settled();
        rig.Settings = rig.Settings with { Synchronous = new SynchronousSettings { Mode = SynchronousMode.On } };
        rig.Advance(1);
        Assert.Equal([(DirectiveKind.ApplyConfig, "n1")], CoordinatorRig.Directives(rig.Step()));
        rig.Answer(DirectiveKind.ApplyConfig, success: false, detail: "could not reload");

        rig.Advance(0.9);
        Assert.Empty(rig.Step().Events);
        rig.Advance(0.1);
        Assert.Equal([(DirectiveKind.ApplyConfig, "n1")], CoordinatorRig.Directives(rig.Step()));
    }

    [Fact]
    public void a_standby_that_streamed_still_counts_for_failure_timeout_after_its_stream_stops()
    {
        var rig = CoordinatorRig.Settled(settings: new CoordinatorSettings { Synchronous = new SynchronousSettings { Mode = SynchronousMode.On } });
        Assert.Equal(["n2"], rig.State.SynchronousStandbys);

        // n2's stream stops (a dying primary cuts it before its own heartbeat says so): it stays recorded for failure_timeout (3 s).
        rig.Standby("n2", null, "0/5000000");
        rig.Step(); // its replication recorded as stopped
        Assert.Empty(rig.Step().Events);
        rig.Advance(2.9);
        Assert.Empty(rig.Step().Events);
        rig.Advance(0.1);
        var narrowed = Assert.IsType<SynchronousStandbysChanged>(Assert.Single(rig.Step().Events));
        Assert.Empty(narrowed.Standbys);
    }

    [Fact]
    public void a_standby_that_never_streamed_from_this_primary_does_not_count_as_streaming()
    {
        var rig = CoordinatorRig.Settled(settings: new CoordinatorSettings { Synchronous = new SynchronousSettings { Mode = SynchronousMode.On } });
        // A new coordinator (empty memory) never saw n2 stream: n2 not streaming now is not streaming.
        rig.Memory = CoordinatorMemory.Empty with { InOfficeSince = rig.Now.AddMinutes(-1) };
        rig.Standby("n2", null, "0/5000000");
        rig.Step(); // its replication recorded as stopped
        var narrowed = Assert.IsType<SynchronousStandbysChanged>(Assert.Single(rig.Step().Events));
        Assert.Empty(narrowed.Standbys);
    }

    // --- precedence -----------------------------------------------------------------------------

    [Fact]
    public void an_expired_directive_is_recorded_before_anything_else()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new ReinitializeRequested("n3", "disk replaced") { By = Alice, CorrelationId = "r" });
        rig.Step();
        rig.LeaseHolder = null;
        rig.Silence("n1");
        rig.Advance(rig.Settings.RejoinTimeout.TotalSeconds); // the primary is lost, and REINITIALIZE expired

        var decision = rig.Step();

        var expired = Assert.IsType<DirectiveExpired>(Assert.Single(decision.Events));
        Assert.Equal((DirectiveKind.Reinitialize, "n3", true), (expired.Kind, expired.Node, expired.Retrying));
        Assert.IsType<FailoverStarted>(rig.Step().Events[0]);
    }

    [Fact]
    public void a_switchover_runs_before_housekeeping()
    {
        var rig = CoordinatorRig.Settled();
        rig.Standby("n3", "n2", "0/5000000");
        rig.Step();
        rig.Advance(5); // n3 is due a REPOINT
        rig.Scenario.Append(new SwitchoverRequested("s1", "n1", "n2", null) { By = Alice, CorrelationId = "s1" });

        var decision = rig.Step();

        Assert.Equal([(DirectiveKind.Checkpoint, "n1")], CoordinatorRig.Directives(decision));
        Assert.Equal("switchover s1: CHECKPOINT on n1 before demoting it", decision.Why);
    }

    [Fact]
    public void a_switchover_runs_while_its_primary_is_demoted_without_a_failover()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new SwitchoverRequested("s1", "n1", "n2", null) { By = Alice, CorrelationId = "s1" });
        rig.Step();
        rig.Answer(DirectiveKind.Checkpoint);
        rig.Step();
        rig.LeaseHolder = null; // DEMOTE released it
        rig.Standby("n1", "n2", "0/5000100");
        rig.Advance(10);

        Assert.Equal("waiting for n1 to demote", rig.Step().Why);
    }

    [Fact]
    public void paused_blocks_a_failover_but_not_housekeeping()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new FailoverPaused("maintenance") { By = Alice, CorrelationId = "p" });
        rig.LeaseHolder = null;
        rig.Silence("n1");
        rig.Advance(3);

        var decision = rig.Step();

        Assert.DoesNotContain(decision.Events, e => e is FailoverStarted or DirectiveIssued);
        var health = Assert.IsType<NodeHealthChanged>(Assert.Single(decision.Events));
        Assert.Equal(("n1", NodeHealth.Unreachable), (health.Node, health.Health));
        Assert.Equal("primary n1 is lost (the primary lease of n1 expired) but automatic failover is paused (maintenance); n1 is unreachable", decision.Why);
        Assert.Empty(rig.Step().Events);
        Assert.Null(rig.State.Failover);
    }

    [Fact]
    public void a_forced_manual_failover_runs_while_paused()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new FailoverPaused("maintenance") { By = Alice, CorrelationId = "p" });
        rig.Down("n1", rig.Now);
        rig.Scenario.Append(new FailoverRequested("m1", "n3", AllowDataLoss: false, Force: true) { By = Alice, CorrelationId = "m1" });

        var started = Assert.IsType<FailoverStarted>(rig.Step().Events[0]);

        Assert.Equal(("n3", FailureTrigger.Manual), (started.Candidate, started.TriggerKind));
        Assert.Equal((null, null), (started.Candidates.Single(c => c.Node == "n3").Rejection, started.Candidates.Single(c => c.Node == "n3").RejectedBecause));
        Assert.Equal(CandidateRejection.OperatorChoseAnother, started.Candidates.Single(c => c.Node == "n2").Rejection);
    }

    [Fact]
    public void a_lost_primary_is_failed_over_before_housekeeping_and_the_failover_records_its_reference_position()
    {
        var rig = CoordinatorRig.Settled();
        rig.Standby("n3", "n2", "0/4FFFFFF");
        rig.Step();
        rig.Advance(5);
        rig.Down("n1", rig.Now.AddSeconds(-10));
        rig.Position = new RecordedPrimaryPosition("n1", Lsn.Parse("0/5000010"));

        var decision = rig.Step();

        var started = Assert.IsType<FailoverStarted>(decision.Events[0]);
        Assert.Equal(FailureTrigger.PostgresDown, started.TriggerKind);
        Assert.Equal("0/5000010", started.ReferenceLsn);
        Assert.Equal("0/5000010", rig.State.Failover!.ReferenceLsn);
        Assert.Equal(16, started.Candidates.Single(c => c.Node == "n2").LagBytes);
        Assert.Equal([(DirectiveKind.Fence, "n1")], CoordinatorRig.Directives(decision));
    }

    // --- manual failover ------------------------------------------------------------------------

    [Fact]
    public void a_manual_failover_is_refused_while_the_primary_is_healthy()
    {
        var rig = CoordinatorRig.Settled();
        rig.Scenario.Append(new FailoverRequested("m1", "n2", AllowDataLoss: false, Force: false) { By = Alice, CorrelationId = "m1" });

        var failed = Assert.IsType<FailoverFailed>(Assert.Single(rig.Step().Events));

        Assert.Equal("the primary n1 is healthy: use pgha switchover to move it", failed.Reason);
        Assert.Null(rig.State.RequestedFailover);
    }

    [Fact]
    public void a_manual_failover_to_a_node_behind_is_refused_unless_data_loss_is_allowed()
    {
        var rig = CoordinatorRig.Settled();
        rig.Standby("n3", "n1", "0/4FFFF00");
        rig.Down("n1", rig.Now);
        rig.Scenario.Append(new FailoverRequested("m1", "n3", AllowDataLoss: false, Force: false) { By = Alice, CorrelationId = "m1" });

        var refused = Assert.IsType<FailoverFailed>(Assert.Single(rig.Step().Events));
        Assert.Equal("n3 cannot be promoted: received LSN 0/4FFFF00 is behind n2's 0/5000000; add --allow-data-loss to promote it anyway", refused.Reason);

        rig.Scenario.Append(new FailoverRequested("m2", "n3", AllowDataLoss: true, Force: false) { By = Alice, CorrelationId = "m2" });
        var started = Assert.IsType<FailoverStarted>(rig.Step().Events[0]);
        Assert.Equal("n3", started.Candidate);
        Assert.StartsWith("manual failover to n3 requested by user alice (data loss allowed)", started.Trigger, StringComparison.Ordinal);
    }

    [Fact]
    public void a_manual_failover_to_a_node_only_ranked_lower_needs_no_data_loss()
    {
        var rig = CoordinatorRig.Settled();
        rig.Down("n1", rig.Now);
        rig.Scenario.Append(new FailoverRequested("m1", "n3", AllowDataLoss: false, Force: false) { By = Alice, CorrelationId = "m1" });

        var started = Assert.IsType<FailoverStarted>(rig.Step().Events[0]);

        Assert.Equal("n3", started.Candidate);
        Assert.Equal("the operator asked for n3", started.Candidates.Single(c => c.Node == "n2").RejectedBecause);
    }

    [Fact]
    public void a_manual_failover_to_a_node_that_cannot_be_promoted_is_refused_even_with_data_loss_allowed()
    {
        var rig = CoordinatorRig.Settled();
        rig.Standby("n3", "n1", "0/5000000");
        rig.Down("n3", rig.Now);
        rig.Down("n1", rig.Now);
        rig.Scenario.Append(new FailoverRequested("m1", "n3", AllowDataLoss: true, Force: false) { By = Alice, CorrelationId = "m1" });

        var refused = Assert.IsType<FailoverFailed>(Assert.Single(rig.Step().Events));

        Assert.Equal("n3 cannot be promoted: its health is Unhealthy", refused.Reason);
    }
}
