using System.Text.Json;
using System.Text.Json.Serialization;
using HA.Core.Events;

namespace HA.Core.Tests.Coordinator;

/// <summary>FailoverStarted as today's main stores it (no TriggerKind, ReferenceLsn nor Rejection) must still load.</summary>
public sealed class loading_failover_events_recorded_before_the_enums
{
    // As the witness store serializes events: camelCase, enums as strings.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    [Fact]
    public void a_failover_started_without_the_new_properties_loads_with_them_null()
    {
        const string stored = """
            {"failoverId":"f1","term":2,"trigger":"the primary lease of n1 expired","oldPrimary":"n1","candidate":"n2",
             "candidates":[{"node":"n2","receivedLsn":"0/5000000","lagBytes":0,"failoverPriority":0,"rejectedBecause":null},
                           {"node":"n3","receivedLsn":"0/4FFFF00","lagBytes":256,"failoverPriority":0,"rejectedBecause":"received LSN 0/4FFFF00 is behind n2's 0/5000000"}],
             "observations":[],"by":{"kind":"Coordinator","name":"n3"},"correlationId":"f1"}
            """;

        var started = JsonSerializer.Deserialize<FailoverStarted>(stored, Json)!;

        Assert.Equal(("the primary lease of n1 expired", null, null), (started.Trigger, started.TriggerKind, started.ReferenceLsn));
        Assert.Equal("received LSN 0/4FFFF00 is behind n2's 0/5000000", started.Candidates[1].RejectedBecause);
        Assert.All(started.Candidates, c => Assert.Null(c.Rejection));
    }

    [Fact]
    public void a_failover_started_with_them_keeps_them()
    {
        var started = new FailoverStarted("f1", 2, "lost", "n1", "n2",
            [new CandidateAssessment("n3", "0/4FFFF00", 256, 0, "behind") { Rejection = CandidateRejection.BehindCandidate }], [])
        { By = Initiator.Coordinator("n3"), CorrelationId = "f1", TriggerKind = FailureTrigger.PostgresDown, ReferenceLsn = "0/5000010" };

        var json = JsonSerializer.Serialize(started, Json);
        var loaded = JsonSerializer.Deserialize<FailoverStarted>(json, Json)!;

        Assert.Contains("\"triggerKind\":\"PostgresDown\"", json, StringComparison.Ordinal);
        Assert.Equal((FailureTrigger.PostgresDown, "0/5000010", CandidateRejection.BehindCandidate), (loaded.TriggerKind, loaded.ReferenceLsn, loaded.Candidates[0].Rejection));
    }
}
