using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;

namespace HA.Core.Tests.Directives;

public sealed class typed_directives_and_outcomes
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 3, 12, 0, TimeSpan.Zero);

    public static TheoryData<Directive> Directives() =>
    [
        new Fence(),
        new Promote("*", "0/5000200"),
        new Promote(null),
        new Demote("n2"),
        new Repoint("n2"),
        new Rewind("n1"),
        new Reinitialize("n1"),
        new Checkpoint(),
        new ApplySynchronousStandbys("ANY 1 (n2, n3)"),
        new ApplyParameters(new Dictionary<string, string> { ["work_mem"] = "64MB", ["DateStyle"] = "ISO, MDY" }, ["temp_buffers"], 11),
        new Restart(11),
    ];

    public static TheoryData<DirectiveOutcome> Outcomes() =>
    [
        new Fenced(),
        new Promoted(2, "0/4000230"),
        new Promoted(2, null, AlreadyPrimary: true),
        new Demoted("0/40000D8", "n2"),
        new Demoted(null, "n2"),
        new Following("n2"),
        new Rejoined(RejoinMethod.Rewind, "n1"),
        new Rejoined(RejoinMethod.Reinitialize, "n1", "pg_rewind: could not find common ancestor"),
        new Checkpointed(),
        new SynchronousStandbysSet("FIRST 1 (\"n2\")", "0/4000000"),
        new ParametersSet(11, ["max_connections"], 2, 1),
        new Restarted(11, "n1", []),
    ];

    [Theory]
    [MemberData(nameof(Directives))]
    public void a_directive_issued_reads_back_as_the_same_typed_directive(Directive directive)
    {
        var issued = new DirectiveIssued("d1", "n2", directive.Kind, 3, 7, T0, directive) { By = Initiator.Coordinator("n1"), CorrelationId = "c" };
        var stored = StoredJson.RoundTrip(issued);
        Assert.Equal(directive, stored.Directive);
        Assert.Equal(issued, stored);
        Assert.DoesNotContain("\"arguments\"", JsonSerializer.Serialize(issued, StoredJson.Options), StringComparison.Ordinal);
        // The agent's gate keeps answers on disk with the default options: the directive survives those too.
        Assert.Equal(directive, JsonSerializer.Deserialize<DirectiveIssued>(JsonSerializer.Serialize(issued))!.Directive);
    }

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void an_answer_reads_back_with_the_same_typed_outcome(DirectiveOutcome outcome)
    {
        var succeeded = new DirectiveSucceeded("d1", "n2", TimeSpan.FromMilliseconds(40), "done", outcome) { By = Initiator.Agent("n2"), CorrelationId = "c" };
        Assert.Equal(outcome, StoredJson.RoundTrip(succeeded).Outcome);
        Assert.Equal(outcome, JsonSerializer.Deserialize<DirectiveSucceeded>(JsonSerializer.Serialize(succeeded))!.Outcome);
    }

    [Fact]
    public void the_stored_names_of_directives_and_outcomes_never_change()
    {
        // These names are in every log written since directives were typed: renaming one loses history.
        Assert.Equal(
            ["fence", "promote", "demote", "repoint", "rewind", "reinitialize", "checkpoint", "apply_synchronous_standbys", "apply_parameters", "restart"],
            typeof(Directive).GetCustomAttributes<JsonDerivedTypeAttribute>().Select(a => (string)a.TypeDiscriminator!));
        Assert.Equal(
            ["fenced", "promoted", "demoted", "following", "rejoined", "checkpointed", "synchronous_standbys_set", "parameters_set", "restarted"],
            typeof(DirectiveOutcome).GetCustomAttributes<JsonDerivedTypeAttribute>().Select(a => (string)a.TypeDiscriminator!));
        Assert.Contains("{\"$type\":\"demote\",\"upstream\":\"n2\"}", JsonSerializer.Serialize<Directive>(new Demote("n2"), StoredJson.Options), StringComparison.Ordinal);
    }

    [Fact]
    public void every_record_is_declared_and_every_stored_property_sorts_after_the_discriminator_in_jsonb()
    {
        // jsonb keeps the shortest keys first (then by bytes), and System.Text.Json reads "$type" only as the
        // first key: every property name must be at least as long as "$type", which sorts first at equal length.
        foreach (var (root, _) in new[] { (typeof(Directive), 0), (typeof(DirectiveOutcome), 0) })
        {
            var declared = root.GetCustomAttributes<JsonDerivedTypeAttribute>().Select(a => a.DerivedType).ToHashSet();
            var concrete = root.Assembly.GetTypes().Where(t => t.IsSubclassOf(root) && !t.IsAbstract).ToHashSet();
            Assert.Equal(concrete.OrderBy(t => t.Name), declared.OrderBy(t => t.Name));
            foreach (var type in concrete)
            {
                var names = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>(inherit: false) is null && p.Name != "EqualityContract")
                    .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(p.Name));
                foreach (var name in names)
                    Assert.True(JsonbOrder(Directive.Discriminator, name) < 0, $"{type.Name}.{name} would be stored before \"{Directive.Discriminator}\" in jsonb");
            }
        }
    }

    private static int JsonbOrder(string a, string b) =>
        a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);

    [Fact]
    public void both_apply_config_records_have_the_apply_config_kind_and_every_other_record_its_own()
    {
        Assert.Equal(DirectiveKind.ApplyConfig, new ApplySynchronousStandbys("").Kind);
        Assert.Equal(DirectiveKind.ApplyConfig, new ApplyParameters(new Dictionary<string, string>(), [], 1).Kind);
        Assert.Equal(
            [DirectiveKind.Fence, DirectiveKind.Promote, DirectiveKind.Demote, DirectiveKind.Repoint, DirectiveKind.Rewind, DirectiveKind.Reinitialize, DirectiveKind.Checkpoint, DirectiveKind.Restart],
            new Directive[] { new Fence(), new Promote(""), new Demote("n"), new Repoint("n"), new Rewind("n"), new Reinitialize("n"), new Checkpoint(), new Restart(1) }.Select(d => d.Kind));
    }

    [Fact]
    public void the_coordinator_issues_a_promote_with_the_synchronous_standby_names_a_new_primary_starts_with()
    {
        var context = new CoordinatorContext("n3", 7, T0, TimeSpan.FromSeconds(30), () => "id1") { PromoteSynchronousStandbyNames = "*" };
        var promote = context.Promote("n2", 3, "sw1", Lsn.Parse("0/5000200"));
        Assert.Equal((DirectiveKind.Promote, "n2", 3L, 7L, T0.AddSeconds(30), "sw1"), (promote.Kind, promote.Node, promote.Term, promote.FencingToken, promote.ExpiresAt, promote.CorrelationId));
        Assert.Equal(new Promote("*", "0/5000200"), promote.Directive);
        var repoint = context.Issue("n3", 3, "sw1", new Repoint("n2"), TimeSpan.FromMinutes(5));
        Assert.Equal((DirectiveKind.Repoint, T0.AddMinutes(5), (Directive)new Repoint("n2")), (repoint.Kind, repoint.ExpiresAt, repoint.Directive));
    }
}
