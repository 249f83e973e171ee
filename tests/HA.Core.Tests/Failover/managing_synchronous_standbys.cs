using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Failover;

public sealed class managing_synchronous_standbys
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);
    private int _ids;

    private CoordinatorContext Coordinator() => new("n1", 7, T0, TimeSpan.FromSeconds(30), () => $"id{++_ids}");

    private static readonly SynchronousSettings On = new() { Mode = SynchronousMode.On, NodeCount = 1 };
    private static readonly SynchronousSettings Quorum = new() { Mode = SynchronousMode.Quorum, NodeCount = 1 };

    private static Dictionary<string, StandbyReport> Streaming(string flushed, params string[] nodes) =>
        nodes.ToDictionary(n => n, n => new StandbyReport(n, true, Lsn.Parse(flushed)));

    private static void Apply(Scenario scenario, Decision? decision)
    {
        Assert.NotNull(decision);
        foreach (var e in decision.Events) scenario.Append(e, 7);
    }

    /// <summary>The primary's agent answers the pending APPLY_CONFIG: the value is in effect at <paramref name="lsn"/>.</summary>
    private void Applied(Scenario scenario, string lsn)
    {
        var directive = scenario.State.PendingDirectives.Values.Single(d => d.Kind == DirectiveKind.ApplyConfig);
        Assert.Equal("n1", directive.Node);
        var value = Value(scenario);
        scenario.Append(new DirectiveSucceeded(directive.DirectiveId, "n1", TimeSpan.FromMilliseconds(5), SyncApplyDetail.Format(value, Lsn.Parse(lsn)), new SynchronousStandbysSet(value, lsn)) { By = Initiator.Agent("n1"), CorrelationId = "s" });
        scenario.Append(new SynchronousStandbysApplied("n1", value, lsn) { By = Initiator.Agent("n1"), CorrelationId = "s" });
    }

    private string? _lastValue;

    private string Value(Scenario scenario) => _lastValue ?? throw new InvalidOperationException($"no APPLY_CONFIG issued at version {scenario.State.Version}");

    private Decision? Step(Scenario scenario, SynchronousSettings settings, Dictionary<string, StandbyReport> reports)
    {
        var decision = SynchronousSteps.Next(scenario.State, settings, reports, Coordinator());
        if (decision?.Events.OfType<DirectiveIssued>().SingleOrDefault() is { } issued) _lastValue = ((ApplySynchronousStandbys)issued.Directive).Value;
        return decision;
    }

    [Fact]
    public void a_standby_is_recorded_only_after_the_primary_waits_for_it_and_it_flushed_past_that_point()
    {
        var scenario = Scenario.Bootstrapped();
        var reports = Streaming("0/5000000", "n2", "n3");

        Apply(scenario, Step(scenario, On, reports));
        Assert.Equal("FIRST 1 (\"n2\")", _lastValue);
        Assert.Equal(SynchronousMode.Off, scenario.State.SynchronousMode); // nothing promised yet
        Assert.Null(Step(scenario, On, reports)); // one change of the primary's setting at a time
        Applied(scenario, "0/5000100");

        Assert.Null(Step(scenario, On, reports)); // n2 has not flushed past 0/5000100 yet
        reports = Streaming("0/5000100", "n2", "n3");
        Apply(scenario, Step(scenario, On, reports));
        Assert.Equal((SynchronousMode.On, 1, "n2"), (scenario.State.SynchronousMode, scenario.State.SynchronousNodeCount, string.Join(",", scenario.State.SynchronousStandbys)));
        Assert.Null(Step(scenario, On, reports));
    }

    [Fact]
    public void a_lost_standby_is_unrecorded_before_the_primary_stops_waiting_for_it_and_its_replacement_recorded_after()
    {
        var scenario = Scenario.Bootstrapped();
        var reports = Streaming("0/5000100", "n2", "n3");
        Apply(scenario, Step(scenario, On, reports));
        Applied(scenario, "0/5000100");
        Apply(scenario, Step(scenario, On, reports));
        Assert.Equal(["n2"], scenario.State.SynchronousStandbys);

        reports["n2"] = new StandbyReport("n2", false, null);
        var narrow = Step(scenario, On, reports);
        Apply(scenario, narrow);
        Assert.Empty(scenario.State.SynchronousStandbys); // n3 may lack commits acknowledged by n2 alone
        Assert.DoesNotContain(narrow!.Events, e => e is DirectiveIssued);

        Apply(scenario, Step(scenario, On, reports));
        Assert.Equal("FIRST 1 (\"n3\")", _lastValue);
        Applied(scenario, "0/6000000");
        Assert.Null(Step(scenario, On, reports)); // n3 flushed only up to 0/5000100
        reports["n3"] = new StandbyReport("n3", true, Lsn.Parse("0/6000000"));
        Apply(scenario, Step(scenario, On, reports));
        Assert.Equal(["n3"], scenario.State.SynchronousStandbys);
    }

    [Fact]
    public void with_no_standby_left_the_primary_stops_waiting_unless_strict_where_it_waits_for_any()
    {
        foreach (var (strict, expected) in new[] { (false, ""), (true, "*") })
        {
            var scenario = Scenario.Bootstrapped();
            var settings = On with { Strict = strict };
            var reports = Streaming("0/5000100", "n2");
            Apply(scenario, Step(scenario, settings, reports));
            Applied(scenario, "0/5000100");
            Apply(scenario, Step(scenario, settings, reports));

            reports["n2"] = new StandbyReport("n2", false, null);
            Apply(scenario, Step(scenario, settings, reports));
            Assert.Empty(scenario.State.SynchronousStandbys);
            Apply(scenario, Step(scenario, settings, reports));
            Assert.Equal(expected, _lastValue);
            Applied(scenario, "0/5000200");
            Assert.Null(Step(scenario, settings, reports));
        }
    }

    [Fact]
    public void quorum_lists_every_eligible_standby_and_adding_one_first_unrecords_what_the_wider_setting_no_longer_covers()
    {
        var scenario = Scenario.Bootstrapped(4);
        var reports = Streaming("0/5000100", "n2", "n3");
        Apply(scenario, Step(scenario, Quorum, reports));
        Assert.Equal("ANY 1 (\"n2\", \"n3\")", _lastValue);
        Applied(scenario, "0/5000100");
        Apply(scenario, Step(scenario, Quorum, reports));
        Assert.Equal((1, "n2,n3"), (scenario.State.SynchronousNodeCount, string.Join(",", scenario.State.SynchronousStandbys)));

        // n4 joins the quorum: a commit acknowledged by n4 alone is on neither n2 nor n3.
        reports = Streaming("0/5000100", "n2", "n3", "n4");
        Apply(scenario, Step(scenario, Quorum, reports));
        Assert.Equal(0, scenario.State.SynchronousNodeCount);
        Apply(scenario, Step(scenario, Quorum, reports));
        Assert.Equal("ANY 1 (\"n2\", \"n3\", \"n4\")", _lastValue);
        Applied(scenario, "0/5000100");
        Apply(scenario, Step(scenario, Quorum, reports));
        Assert.Equal(["n2", "n3", "n4"], scenario.State.SynchronousStandbys);
    }

    [Fact]
    public void nofailover_detached_and_stray_replicas_are_never_synchronous_standbys()
    {
        var scenario = new Scenario();
        scenario.Append(new ClusterBootstrapped("demo", "n1", 1, "0/3000000",
            [new NodeSpec("n1", "h", 1), new NodeSpec("n2", "h", 2, NoFailover: true), new NodeSpec("n3", "h", 3), new NodeSpec("n4", "h", 4), new NodeSpec("n5", "h", 5)])
        { By = Initiator.System, CorrelationId = "b" });
        scenario.Append(new NodeDetached("n3", "disk swap") { By = Initiator.User("alice"), CorrelationId = "d" });
        var reports = Streaming("0/5000100", "n2", "n3", "n4");
        reports["n5"] = new StandbyReport("n5", false, Lsn.Parse("0/5000100")); // streams from someone else

        Apply(scenario, Step(scenario, Quorum with { NodeCount = 2 }, reports));
        Assert.Equal("ANY 1 (\"n4\")", _lastValue);
    }

    [Fact]
    public void a_new_primary_starts_with_nobody_recorded_and_turning_synchronous_mode_off_unrecords_first()
    {
        var scenario = Scenario.Bootstrapped();
        var reports = Streaming("0/5000100", "n2", "n3");
        Apply(scenario, Step(scenario, On, reports));
        Applied(scenario, "0/5000100");
        Apply(scenario, Step(scenario, On, reports));

        var off = Step(scenario, new SynchronousSettings(), reports);
        Apply(scenario, off);
        Assert.Equal((SynchronousMode.Off, 0), (scenario.State.SynchronousMode, scenario.State.SynchronousStandbys.Count));
        Apply(scenario, Step(scenario, new SynchronousSettings(), reports));
        Assert.Equal("", _lastValue);

        var again = Scenario.Bootstrapped();
        Apply(again, Step(again, On, reports));
        Applied(again, "0/5000100");
        Apply(again, Step(again, On, reports));
        again.Append(new FailoverStarted("f1", 2, "lost", "n1", "n2", [], []) { By = Scenario.Coordinator, CorrelationId = "f1" });
        again.Append(new PrimaryChanged(2, "n2", "n1", 2, "0/6000000") { By = Scenario.Coordinator, CorrelationId = "f1" });
        Assert.Equal((SynchronousMode.On, 0, null), (again.State.SynchronousMode, again.State.SynchronousStandbys.Count, again.State.SynchronousApplied));
    }

    [Theory]
    [InlineData("", 0, new string[0], false)]
    [InlineData("FIRST 1 (\"n2\")", 1, new[] { "n2" }, false)]
    [InlineData("ANY 2 (\"n2\", \"n-3\", \"we\"\"ird\")", 2, new[] { "n2", "n-3", "we\"ird" }, false)]
    [InlineData("*", 0, new string[0], true)]
    public void the_setting_reads_back_as_written(string value, int acks, string[] standbys, bool any)
    {
        var quorum = SyncQuorum.Parse(value);
        if (any) { Assert.Null(quorum); return; }
        Assert.Equal(acks, quorum!.Acks);
        Assert.Equal(standbys, quorum.Standbys);
        if (value.Length > 0) Assert.Equal(value, SyncQuorum.Format(value.StartsWith("ANY", StringComparison.Ordinal) ? SynchronousMode.Quorum : SynchronousMode.On, quorum, false));
        // An answer stored before outcomes were typed still reads back as what the primary applied.
        Assert.Equal(new SynchronousStandbysSet(value, "0/5000100"), LegacyDirectivePayloads.Outcome(DirectiveKind.ApplyConfig, SyncApplyDetail.Format(value, Lsn.Parse("0/5000100"))));
    }

    [Theory]
    [InlineData(1, "n2", 1, "n2", true)]
    [InlineData(1, "n2", 1, "n3", false)]
    [InlineData(1, "n2,n3", 2, "n2,n3", true)]
    [InlineData(1, "n2,n3", 1, "n2,n3,n4", false)]
    [InlineData(1, "n2,n3", 2, "n2,n3,n4", true)]
    [InlineData(2, "n2,n3", 1, "n2,n3", false)]
    public void a_recorded_quorum_is_covered_only_when_every_commit_waited_for_enough_of_it(int loggedAcks, string logged, int appliedAcks, string applied, bool covered) =>
        Assert.Equal(covered, new SyncQuorum(loggedAcks, logged.Split(',')).IsCoveredBy(new SyncQuorum(appliedAcks, applied.Split(','))));
}
