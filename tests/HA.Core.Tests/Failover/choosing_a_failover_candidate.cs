using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Failover;

public sealed class choosing_a_failover_candidate
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private static readonly FailoverSettings Settings = new() { MaximumLagOnFailover = 1000 };
    private static readonly Lsn PrimaryAt = Lsn.Parse("0/5000000");

    private static NodeReport Report(string node, string received, NodeHealth health = NodeHealth.Healthy, double ageSeconds = 1, bool inRecovery = true) =>
        new(node, health, inRecovery, Lsn.Parse(received), Lsn.Parse(received), Now.AddSeconds(-ageSeconds));

    private static Scenario Cluster(int nodes, params NodeSpec[] specs)
    {
        var scenario = new Scenario();
        scenario.Append(new ClusterBootstrapped("demo", "n1", 1, "0/3000000",
            specs.Length > 0 ? specs : Enumerable.Range(1, nodes).Select(i => new NodeSpec($"n{i}", "127.0.0.1", 5500 + i)).ToList())
        { By = Initiator.System, CorrelationId = "b" });
        return scenario;
    }

    private static string? Reason(CandidateChoice choice, string node) => choice.Assessments.Single(a => a.Node == node).RejectedBecause;

    private static CandidateRejection? Kind(CandidateChoice choice, string node) => choice.Assessments.Single(a => a.Node == node).Rejection;

    [Fact]
    public void the_replica_with_the_highest_received_lsn_wins_and_the_others_say_why_not()
    {
        var state = Cluster(3).State;
        var choice = FailoverPolicy.ChooseCandidate(state,
            new Dictionary<string, NodeReport> { ["n2"] = Report("n2", "0/5000000"), ["n3"] = Report("n3", "0/4FFFF00") }, PrimaryAt, Settings, Now);

        Assert.Equal("n2", choice.Chosen);
        Assert.Null(Reason(choice, "n2"));
        Assert.Equal("received LSN 0/4FFFF00 is behind n2's 0/5000000", Reason(choice, "n3"));
        Assert.Equal("it is the primary being replaced", Reason(choice, "n1"));
        Assert.Equal(256, choice.Assessments.Single(a => a.Node == "n3").LagBytes);
        Assert.Equal((null, CandidateRejection.BehindCandidate, CandidateRejection.OldPrimary), (Kind(choice, "n2"), Kind(choice, "n3"), Kind(choice, "n1")));
        Assert.Equal(PrimaryAt, choice.ReferenceLsn);
    }

    [Fact]
    public void ties_go_to_the_higher_failover_priority_then_to_the_name()
    {
        var state = Cluster(0, new NodeSpec("n1", "h", 1), new NodeSpec("n2", "h", 2, FailoverPriority: 1), new NodeSpec("n3", "h", 3, FailoverPriority: 5), new NodeSpec("n4", "h", 4, FailoverPriority: 5)).State;
        var reports = new[] { "n2", "n3", "n4" }.ToDictionary(n => n, n => Report(n, "0/5000000"));
        var choice = FailoverPolicy.ChooseCandidate(state, reports, PrimaryAt, Settings, Now);

        Assert.Equal("n3", choice.Chosen);
        Assert.Equal("same received LSN as n3 but lower failover_priority (1 < 5)", Reason(choice, "n2"));
        Assert.Equal("same received LSN and failover_priority as n3, which comes first by name", Reason(choice, "n4"));
        Assert.Equal((CandidateRejection.LowerPriority, CandidateRejection.LaterByName), (Kind(choice, "n2"), Kind(choice, "n4")));
        Assert.True(FailoverPolicy.OnlyRankedLower(CandidateRejection.LowerPriority) && FailoverPolicy.OnlyRankedLower(CandidateRejection.LaterByName));
    }

    [Fact]
    public void detached_nofailover_stale_unhealthy_silent_and_lagging_nodes_are_never_chosen()
    {
        var scenario = Cluster(0, new NodeSpec("n1", "h", 1), new NodeSpec("n2", "h", 2), new NodeSpec("n3", "h", 3, NoFailover: true),
            new NodeSpec("n4", "h", 4), new NodeSpec("n5", "h", 5), new NodeSpec("n6", "h", 6), new NodeSpec("n7", "h", 7), new NodeSpec("n8", "h", 8));
        scenario.Append(new NodeDetached("n2", "disk swap") { By = Initiator.User("alice"), CorrelationId = "d" });
        var reports = new Dictionary<string, NodeReport>
        {
            ["n2"] = Report("n2", "0/5000000"),
            ["n3"] = Report("n3", "0/5000000"),
            ["n4"] = Report("n4", "0/5000000", ageSeconds: 30),
            ["n5"] = Report("n5", "0/5000000", health: NodeHealth.Unhealthy),
            ["n7"] = Report("n7", "0/4000000"),
            ["n8"] = Report("n8", "0/5000000", inRecovery: false),
        };

        var choice = FailoverPolicy.ChooseCandidate(scenario.State, reports, PrimaryAt, Settings, Now);

        Assert.Null(choice.Chosen);
        Assert.Equal("detached for maintenance (disk swap)", Reason(choice, "n2"));
        Assert.Equal("nofailover is set", Reason(choice, "n3"));
        Assert.Equal("its last report is 30 s old (fresher than 10 s needed)", Reason(choice, "n4"));
        Assert.Equal("its health is Unhealthy", Reason(choice, "n5"));
        Assert.Equal("no report from its agent", Reason(choice, "n6"));
        Assert.Equal("lag 16777216 bytes behind the primary's last known 0/5000000 exceeds maximum_lag_on_failover (1000)", Reason(choice, "n7"));
        Assert.Equal("it is not in recovery (not a standby)", Reason(choice, "n8"));
        Assert.All(choice.Assessments, a => Assert.NotNull(a.RejectedBecause));
        Assert.Equal(
            [CandidateRejection.OldPrimary, CandidateRejection.Detached, CandidateRejection.NoFailover, CandidateRejection.StaleReport, CandidateRejection.Unhealthy,
             CandidateRejection.NoReport, CandidateRejection.LagOverMaximum, CandidateRejection.NotInRecovery],
            choice.Assessments.Select(a => a.Rejection!.Value));
        // Only lagging may be overridden by an operator accepting data loss; none of the others.
        Assert.Equal([CandidateRejection.LagOverMaximum], choice.Assessments.Select(a => a.Rejection!.Value).Where(FailoverPolicy.MayOnlyLackCommits));
    }

    [Fact]
    public void in_synchronous_mode_only_a_synchronous_standby_may_be_promoted_even_if_another_is_ahead()
    {
        var scenario = Cluster(3);
        scenario.Append(new SynchronousStandbysChanged(SynchronousMode.On, 1, ["n3"]) { By = Scenario.Coordinator, CorrelationId = "s" });
        var reports = new Dictionary<string, NodeReport> { ["n2"] = Report("n2", "0/5000000"), ["n3"] = Report("n3", "0/4FFFFF0") };

        var choice = FailoverPolicy.ChooseCandidate(scenario.State, reports, PrimaryAt, Settings, Now);

        Assert.Equal("n3", choice.Chosen);
        Assert.Equal("not a synchronous standby (synchronous_mode on, standbys n3): only a node with every acknowledged commit may be promoted", Reason(choice, "n2"));
        Assert.Equal(CandidateRejection.NotSynchronous, Kind(choice, "n2"));
    }

    [Fact]
    public void in_quorum_mode_the_most_advanced_of_enough_standbys_is_chosen_and_too_few_in_view_means_nobody()
    {
        var scenario = Cluster(4);
        scenario.Append(new SynchronousStandbysChanged(SynchronousMode.Quorum, 2, ["n2", "n3", "n4"]) { By = Scenario.Coordinator, CorrelationId = "s" });
        var reports = new Dictionary<string, NodeReport> { ["n2"] = Report("n2", "0/4FFFFF0"), ["n3"] = Report("n3", "0/5000000") };

        // ANY 2 of 3: every commit is on two of them, so any two in view include one that has it.
        var choice = FailoverPolicy.ChooseCandidate(scenario.State, reports, PrimaryAt, Settings, Now);
        Assert.Equal("n3", choice.Chosen);
        Assert.Equal("received LSN 0/4FFFFF0 is behind n3's 0/5000000", Reason(choice, "n2"));

        // One in view might be the one that missed the last acknowledged commits.
        reports.Remove("n3");
        choice = FailoverPolicy.ChooseCandidate(scenario.State, reports, PrimaryAt, Settings, Now);
        Assert.Null(choice.Chosen);
        Assert.Equal("only 1 of the synchronous standbys (n2, n3, n4, 2 acknowledge each commit) can be assessed; 2 are needed to be sure to find every acknowledged commit", Reason(choice, "n2"));
        var rejection = choice.Assessments.Single(a => a.Node == "n2").Rejection;
        Assert.Equal(CandidateRejection.TooFewSynchronousStandbys, rejection);
        Assert.True(FailoverPolicy.MayOnlyLackCommits(rejection!.Value));
    }

    [Fact]
    public void in_synchronous_mode_with_no_standby_recorded_nobody_is_promoted()
    {
        var scenario = Cluster(3);
        scenario.Append(new SynchronousStandbysChanged(SynchronousMode.On, 0, []) { By = Scenario.Coordinator, CorrelationId = "s" });
        var reports = new Dictionary<string, NodeReport> { ["n2"] = Report("n2", "0/5000000"), ["n3"] = Report("n3", "0/5000000") };

        var choice = FailoverPolicy.ChooseCandidate(scenario.State, reports, PrimaryAt, Settings, Now);

        Assert.Null(choice.Chosen);
        Assert.Equal("no synchronous standby is recorded (synchronous_mode on): none is known to have every acknowledged commit", Reason(choice, "n2"));
        Assert.Equal(CandidateRejection.NoSynchronousStandby, Kind(choice, "n2"));
    }

    [Fact]
    public void a_former_primary_that_has_not_rejoined_is_not_a_candidate()
    {
        var scenario = Cluster(3);
        scenario.Append(new FailoverStarted("f1", 2, "lost", "n1", "n2", [], []) { By = Scenario.Coordinator, CorrelationId = "f1" });
        scenario.Append(new PrimaryChanged(2, "n2", "n1", 2, "0/6000000") { By = Scenario.Coordinator, CorrelationId = "f1" });
        var reports = new Dictionary<string, NodeReport> { ["n1"] = Report("n1", "0/6000000"), ["n3"] = Report("n3", "0/6000000") };

        var choice = FailoverPolicy.ChooseCandidate(scenario.State, reports, Lsn.Parse("0/6000000"), Settings, Now);

        Assert.Equal("n3", choice.Chosen);
        Assert.Equal("its role is FormerPrimary, not a replica", Reason(choice, "n1"));
        Assert.Equal(CandidateRejection.NotReplica, Kind(choice, "n1"));
    }
}
