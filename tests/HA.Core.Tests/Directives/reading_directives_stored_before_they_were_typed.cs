using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.History;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Directives;

/// <summary>
/// Events and answers written by pgha before directives were typed (the JSON below is exactly what the
/// witness store held at ef2900c: jsonb key order, enums as strings) load and mean the same.
/// </summary>
public sealed class reading_directives_stored_before_they_were_typed
{
    private const string By = "\"by\": {\"kind\": \"Coordinator\", \"name\": \"n1\"}";

    private static DirectiveIssued Issued(string kind, string arguments) => StoredJson.Read<DirectiveIssued>(
        $$"""{{{By}}, "kind": "{{kind}}", "node": "n1", "term": 2, "arguments": {{arguments}}, "expiresAt": "2026-12-08T00:20:23.1194605+00:00", "directiveId": "c832f77e7514", "fencingToken": 1, "correlationId": "switchover-82800196"}""");

    public static TheoryData<string, string, Directive> StoredDirectives() => new()
    {
        { "Fence", "{}", new Fence() },
        { "Checkpoint", "{}", new Checkpoint() },
        { "Demote", """{"upstream": "n2"}""", new Demote("n2") },
        { "Repoint", """{"upstream": "n2"}""", new Repoint("n2") },
        { "Rewind", """{"upstream": "n1"}""", new Rewind("n1") },
        { "Reinitialize", """{"upstream": "n1"}""", new Reinitialize("n1") },
        { "Promote", """{"after_lsn": "0/40000D8", "synchronous_standby_names": ""}""", new Promote("", "0/40000D8") },
        { "Promote", """{"synchronous_standby_names": "*"}""", new Promote("*") },
        // Before PROMOTE carried synchronous_standby_names, it left the setting alone: null says so.
        { "Promote", "{}", new Promote(null) },
        { "ApplyConfig", """{"synchronous_standby_names": "FIRST 1 (\"n2\")"}""", new ApplySynchronousStandbys("FIRST 1 (\"n2\")") },
        {
            "ApplyConfig", """{"reset": "[\"temp_buffers\"]", "parameters": "{\"log_min_duration_statement\":\"250ms\",\"work_mem\":\"64MB\"}", "parameters_version": "11"}""",
            new ApplyParameters(new Dictionary<string, string> { ["log_min_duration_statement"] = "250ms", ["work_mem"] = "64MB" }, ["temp_buffers"], 11)
        },
        { "Restart", """{"parameters_version": "11"}""", new Restart(11) },
    };

    [Theory]
    [MemberData(nameof(StoredDirectives))]
    public void a_directive_stored_with_string_arguments_reads_as_its_typed_directive(string kind, string arguments, Directive expected)
    {
        var issued = Issued(kind, arguments);
        Assert.Equal(expected, issued.Directive);
        Assert.Equal(expected.Kind, issued.Kind);
        // Written again (an export, a snapshot), it is written typed, and reads back the same.
        Assert.Equal(expected, StoredJson.RoundTrip(issued).Directive);
        Assert.DoesNotContain("arguments", System.Text.Json.JsonSerializer.Serialize(issued, StoredJson.Options), StringComparison.Ordinal);
    }

    public static TheoryData<DirectiveKind, string, DirectiveOutcome?> StoredAnswers() => new()
    {
        { DirectiveKind.Fence, "already stopped", new Fenced() },
        { DirectiveKind.Fence, "writes refused, client sessions terminated; stopped (fast); primary lease released", new Fenced() },
        { DirectiveKind.Checkpoint, "checkpoint done", new Checkpointed() },
        { DirectiveKind.Demote, "demoted at final LSN 0/40000D8; following n2; primary lease released", new Demoted("0/40000D8", "n2") },
        { DirectiveKind.Demote, "already a standby; following n2", new Demoted(null, "n2") },
        { DirectiveKind.Promote, "promoted on timeline 2 at 0/4000230", new Promoted(2, "0/4000230") },
        { DirectiveKind.Promote, "already primary on timeline 3", new Promoted(3, null, AlreadyPrimary: true) },
        { DirectiveKind.Repoint, "following n2", new Following("n2") },
        { DirectiveKind.Rewind, "rewound; following n1", new Rejoined(RejoinMethod.Rewind, "n1") },
        { DirectiveKind.Rewind, "pg_rewind failed (pg_rewind exited 1: could not find common ancestor (timeline 2)); reinitialized from n1 instead", new Rejoined(RejoinMethod.Reinitialize, "n1", "pg_rewind exited 1: could not find common ancestor (timeline 2)") },
        { DirectiveKind.Reinitialize, "reinitialized from n1", new Rejoined(RejoinMethod.Reinitialize, "n1") },
        { DirectiveKind.ApplyConfig, "synchronous_standby_names = 'FIRST 1 (\"n2\")' in effect at 0/4000000", new SynchronousStandbysSet("FIRST 1 (\"n2\")", "0/4000000") },
        { DirectiveKind.ApplyConfig, "synchronous_standby_names = '' in effect at 0/4000000", new SynchronousStandbysSet("", "0/4000000") },
        { DirectiveKind.ApplyConfig, "2 parameter(s) set, 0 reset, configuration reloaded; parameters version 11; pending restart: none", new ParametersSet(11, []) },
        { DirectiveKind.ApplyConfig, "1 parameter(s) set, 0 reset, configuration reloaded; parameters version 12; pending restart: max_connections, shared_buffers", new ParametersSet(12, ["max_connections", "shared_buffers"]) },
        { DirectiveKind.Restart, "restarted (fast), streaming from n1; parameters version 12; pending restart: none", new Restarted(12, "n1", []) },
        { DirectiveKind.ApplyConfig, "something an agent never wrote", null },
        { DirectiveKind.Promote, "promoted", null },
    };

    [Theory]
    [MemberData(nameof(StoredAnswers))]
    public void an_answer_stored_with_only_its_sentence_reads_as_its_typed_outcome(DirectiveKind kind, string detail, DirectiveOutcome? expected)
    {
        var stored = StoredJson.Read<DirectiveSucceeded>($$"""{"by": {"kind": "Agent", "name": "n1"}, "node": "n1", "detail": {{System.Text.Json.JsonSerializer.Serialize(detail)}}, "duration": "00:00:00.2556536", "directiveId": "c832f77e7514", "correlationId": "switchover-82800196"}""");
        Assert.Null(stored.Outcome);
        Assert.Equal(detail, stored.Detail);
        Assert.Equal(expected, LegacyDirectivePayloads.Outcome(kind, stored.Detail));
    }

    [Fact]
    public void a_switchover_resumed_from_a_stored_demote_answer_promotes_once_its_final_lsn_is_replayed()
    {
        var scenario = Scenario.Bootstrapped().Append(new SwitchoverRequested("sw1", "n1", "n2", null) { By = Initiator.User("alice"), CorrelationId = "sw1" });
        scenario.Append(new DirectiveIssued("c1", "n1", DirectiveKind.Checkpoint, 2, 7, DateTimeOffset.MaxValue, new Checkpoint()) { By = Scenario.Coordinator, CorrelationId = "sw1" }, 7);
        scenario.Append(new DirectiveSucceeded("c1", "n1", TimeSpan.FromMilliseconds(50), "checkpoint done") { By = Initiator.Agent("n1"), CorrelationId = "sw1" });
        scenario.Append(new DirectiveIssued("d1", "n1", DirectiveKind.Demote, 2, 7, DateTimeOffset.MaxValue, new Demote("n2")) { By = Scenario.Coordinator, CorrelationId = "sw1" }, 7);
        // What today's main stored: the answer's sentence, no outcome.
        scenario.Append(StoredJson.Read<DirectiveSucceeded>("""{"by": {"kind": "Agent", "name": "n1"}, "node": "n1", "detail": "demoted at final LSN 0/40000D8; following n2; primary lease released", "duration": "00:00:00.2556536", "directiveId": "d1", "correlationId": "sw1"}"""));
        Assert.Equal("0/40000D8", scenario.State.Switchover!.FinalLsn);

        var context = new CoordinatorContext("n3", 7, DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(30), () => "p1");
        var promote = Assert.IsType<DirectiveIssued>(Assert.Single(SwitchoverSteps.Next(scenario.State, new SwitchoverEvidence(true, true, true, null, null), 1 << 20, context).Events));
        Assert.Equal(new Promote(null, "0/40000D8"), promote.Directive);
    }

    [Fact]
    public void a_cluster_state_stored_in_the_middle_of_a_switchover_keeps_the_demoted_primarys_final_lsn()
    {
        var stored = StoredJson.Read<ActiveOperation>("""{"id": "sw1", "kind": "switchover", "startedAt": "2026-12-08T00:20:19.0+00:00", "from": "n1", "to": "n2", "term": 2, "demoteDirective": "d1", "demoteOutcome": "succeeded", "demoteDetail": "demoted at final LSN 0/40000D8; following n2; primary lease released"}""");
        Assert.Equal("0/40000D8", stored.FinalLsn);
        var written = System.Text.Json.JsonSerializer.Serialize(stored, StoredJson.Options);
        Assert.DoesNotContain("demoteDetail", written, StringComparison.Ordinal);
        Assert.Equal("0/40000D8", StoredJson.Read<ActiveOperation>(written).FinalLsn);
    }

    [Fact]
    public void a_rewind_stored_as_fallen_back_to_a_base_backup_is_recorded_as_a_reinitialize()
    {
        var scenario = Scenario.Bootstrapped();
        scenario.Append(new DirectiveIssued("r1", "n2", DirectiveKind.Rewind, 1, 7, DateTimeOffset.MaxValue, new Rewind("n1")) { By = Scenario.Coordinator, CorrelationId = "rejoin" }, 7);
        var pending = scenario.State.PendingDirectives["r1"];
        // An answer the agent's gate saved before outcomes were typed, delivered again after the upgrade.
        var old = new DirectiveSucceeded("r1", "n2", TimeSpan.FromSeconds(9), "pg_rewind failed (exit 1); reinitialized from n1 instead") { By = Initiator.Agent("n2"), CorrelationId = "rejoin" };
        var events = DirectiveAnswers.Record(scenario.State, pending, old);
        Assert.Equal(new Rejoined(RejoinMethod.Reinitialize, "n1", "exit 1"), Assert.IsType<DirectiveSucceeded>(events[0]).Outcome);
        Assert.Equal("reinitialize", Assert.IsType<NodeRejoined>(events[1]).Method);
    }

    [Fact]
    public void a_stored_directive_reads_as_readable_a_line_as_before()
    {
        var promote = Issued("Promote", """{"after_lsn": "0/40000D8", "synchronous_standby_names": ""}""");
        Assert.Equal("PROMOTE → n1 (directive c832f77e7514, term 2, after 0/40000D8, synchronous_standby_names '')", EventLine.Describe(promote));
        Assert.Equal("DEMOTE → n1 (directive c832f77e7514, term 2, upstream n2)", EventLine.Describe(Issued("Demote", """{"upstream": "n2"}""")));
        Assert.Equal("FENCE → n1 (directive c832f77e7514, term 2)", EventLine.Describe(Issued("Fence", "{}")));
        Assert.Equal("APPLY_CONFIG → n1 (directive c832f77e7514, term 2, parameters version 11: work_mem = '64MB', temp_buffers reset)",
            EventLine.Describe(Issued("ApplyConfig", """{"reset": "[\"temp_buffers\"]", "parameters": "{\"work_mem\":\"64MB\"}", "parameters_version": "11"}""")));
        Assert.Equal("APPLY_CONFIG → n1 (directive c832f77e7514, term 2, synchronous_standby_names 'ANY 1 (n2, n3)')",
            EventLine.Describe(Issued("ApplyConfig", """{"synchronous_standby_names": "ANY 1 (n2, n3)"}""")));
        Assert.Equal("RESTART → n1 (directive c832f77e7514, term 2, parameters version 11)", EventLine.Describe(Issued("Restart", """{"parameters_version": "11"}""")));
    }
}
