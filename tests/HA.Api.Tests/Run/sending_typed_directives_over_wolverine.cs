using HA.Agent.Directives;
using HA.Core.Directives;
using HA.Core.Events;
using Wolverine;

namespace HA.Api.Tests.Run;

/// <summary>The directive an agent's queue carries and the answer it sends back keep their typed records through Wolverine's serializer.</summary>
public sealed class sending_typed_directives_over_wolverine
{
    private static readonly Wolverine.Runtime.Serialization.IMessageSerializer Serializer = new WolverineOptions().DefaultSerializer;

    private static T RoundTrip<T>(T message) => (T)Serializer.ReadFromData(typeof(T), new Envelope { Data = Serializer.WriteMessage(message!) });

    public static TheoryData<Directive, DirectiveOutcome> Pairs() => new()
    {
        { new Fence(), new Fenced() },
        { new Promote("*", "0/5000200"), new Promoted(2, "0/5000300") },
        { new Demote("n2"), new Demoted("0/40000D8", "n2") },
        { new Repoint("n2"), new Following("n2") },
        { new Rewind("n1"), new Rejoined(RejoinMethod.Reinitialize, "n1", "pg_rewind failed") },
        { new Reinitialize("n1"), new Rejoined(RejoinMethod.Reinitialize, "n1") },
        { new Checkpoint(), new Checkpointed() },
        { new ApplySynchronousStandbys("ANY 1 (n2)"), new SynchronousStandbysSet("ANY 1 (n2)", "0/4000000") },
        { new ApplyParameters(new Dictionary<string, string> { ["work_mem"] = "64MB" }, ["temp_buffers"], 4), new ParametersSet(4, ["max_connections"], 1, 1) },
        { new Restart(4), new Restarted(4, "n1", []) },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void a_directive_and_its_answer_cross_the_queue_typed(Directive directive, DirectiveOutcome outcome)
    {
        var envelope = new DirectiveEnvelope("demo", new DirectiveIssued("d1", "n2", directive.Kind, 3, 7, DateTimeOffset.UnixEpoch, directive) { By = Initiator.Coordinator("n1"), CorrelationId = "c" });
        Assert.Equal(envelope, RoundTrip(envelope));
        var result = DirectiveResult.For(envelope, true, TimeSpan.FromMilliseconds(30), "done", outcome);
        var back = RoundTrip(result);
        Assert.Equal(result, back);
        Assert.Equal(outcome, Assert.IsType<DirectiveSucceeded>(back.ToEvent()).Outcome);
    }

    [Fact]
    public void the_api_shows_a_directive_as_its_record_in_snake_case()
    {
        var issued = new DirectiveIssued("d1", "n2", DirectiveKind.Promote, 3, 7, DateTimeOffset.UnixEpoch, new Promote("", "0/5000200")) { By = Initiator.Coordinator("n1"), CorrelationId = "sw1" };
        var view = HA.Api.Http.ReadJson.Event(new HA.Core.History.RecordedEvent("demo", 9, 9, DateTimeOffset.UnixEpoch, 7, issued));
        Assert.Equal("""{"$type":"promote","synchronous_standby_names":"","after_lsn":"0/5000200"}""", view.Data.GetProperty("directive").GetRawText());
        Assert.EndsWith("directive_issued — PROMOTE → n2 (directive d1, term 3, after 0/5000200, synchronous_standby_names '') (by coordinator n1)", view.Line, StringComparison.Ordinal);
    }
}
