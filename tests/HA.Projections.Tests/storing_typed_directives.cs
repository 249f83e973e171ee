using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using Marten;
using Weasel.Core;

namespace HA.Projections.Tests;

/// <summary>
/// Typed directives and outcomes through Marten's serializer, configured as the witness store configures
/// it, and through jsonb (which reorders keys: the "$type" discriminator must still come first).
/// </summary>
[Collection(WitnessCollection.Name)]
public sealed class storing_typed_directives(TestWitness witness)
{
    private static readonly Directive[] Directives =
    [
        new Fence(), new Promote("*", "0/5000200"), new Promote(null), new Demote("n2"), new Repoint("n2"), new Rewind("n1"), new Reinitialize("n1"),
        new Checkpoint(), new ApplySynchronousStandbys("ANY 1 (n2, n3)"),
        new ApplyParameters(new Dictionary<string, string> { ["work_mem"] = "64MB", ["DateStyle"] = "ISO, MDY" }, ["temp_buffers"], 11), new Restart(11),
    ];

    private static readonly DirectiveOutcome[] Outcomes =
    [
        new Fenced(), new Promoted(2, "0/4000230"), new Promoted(2, null, AlreadyPrimary: true), new Demoted("0/40000D8", "n2"), new Following("n2"),
        new Rejoined(RejoinMethod.Rewind, "n1"), new Rejoined(RejoinMethod.Reinitialize, "n1", "pg_rewind: no common ancestor"), new Checkpointed(),
        new SynchronousStandbysSet("FIRST 1 (\"n2\")", "0/4000000"), new ParametersSet(11, ["max_connections"], 2, 1), new Restarted(11, "n1", ["shared_buffers"]),
    ];

    private static DirectiveIssued Issued(int i, Directive directive) =>
        new($"d{i}", "n3", directive.Kind, 1, 7, new DateTimeOffset(2026, 1, 1, 3, 0, 0, TimeSpan.Zero), directive) { By = Given.Coordinator, CorrelationId = "c" };

    private static DirectiveSucceeded Succeeded(int i, DirectiveOutcome outcome) =>
        new($"d{i}", "n3", TimeSpan.FromMilliseconds(40), "done", outcome) { By = Initiator.Agent("n3"), CorrelationId = "c" };

    [Fact]
    public void marten_serializer_round_trips_every_directive_and_outcome()
    {
        var options = new StoreOptions();
        options.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
        var serializer = options.Serializer();
        T RoundTrip<T>(T value) => (T)serializer.FromJson(typeof(T), new MemoryStream(System.Text.Encoding.UTF8.GetBytes(serializer.ToJson(value))));
        for (var i = 0; i < Directives.Length; i++)
        {
            var issued = Issued(i, Directives[i]);
            Assert.Equal(issued, RoundTrip(issued));
            Assert.Contains("\"$type\"", serializer.ToJson(issued), StringComparison.Ordinal);
        }
        for (var i = 0; i < Outcomes.Length; i++) Assert.Equal(Outcomes[i], RoundTrip(Succeeded(i, Outcomes[i])).Outcome);
    }

    [Fact]
    public async Task directives_and_outcomes_stored_in_the_witness_read_back_the_same()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await store.AppendAsync("demo", 1, [.. Directives.Select((d, i) => Issued(i, d))], fencingToken: 7);
        await store.AppendAsync("demo", 1 + Directives.Length, [.. Outcomes.Select((o, i) => Succeeded(i, o))]);

        var events = (await store.EventsAsync("demo", new HistoryFilter())).Events.Select(e => e.Event).ToList();
        Assert.Equal(Directives, events.OfType<DirectiveIssued>().Select(d => d.Directive));
        Assert.Equal(Outcomes, events.OfType<DirectiveSucceeded>().Select(s => s.Outcome!));
        Assert.Empty((await store.StateAsync("demo")).PendingDirectives);
    }

    [Fact]
    public async Task a_switchover_halfway_keeps_the_final_lsn_of_the_demoted_outcome_in_the_stored_state()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await store.AppendAsync("demo", 1, [new SwitchoverRequested("sw1", "n1", "n2", null) { By = Initiator.User("alice"), CorrelationId = "sw1" }]);
        await store.AppendAsync("demo", 2, [new DirectiveIssued("d1", "n1", DirectiveKind.Demote, 2, 7, DateTimeOffset.UtcNow.AddMinutes(1), new Demote("n2")) { By = Given.Coordinator, CorrelationId = "sw1" }], fencingToken: 7);
        await store.AppendAsync("demo", 3, [new DirectiveSucceeded("d1", "n1", TimeSpan.FromMilliseconds(300), "demoted", new Demoted("0/40000D8", "n2")) { By = Initiator.Agent("n1"), CorrelationId = "sw1" }]);
        Assert.Equal("0/40000D8", (await store.StateAsync("demo")).Switchover?.FinalLsn);
    }
}
