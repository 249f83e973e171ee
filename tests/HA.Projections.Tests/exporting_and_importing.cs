using System.Text;
using System.Text.Json;
using HA.Core.Errors;
using HA.Projections;
using HA.Testing;

namespace HA.Projections.Tests;

[Collection(WitnessCollection.Name)]
public sealed class exporting_and_importing(TestWitness witness)
{
    [Fact]
    public async Task export_then_import_into_an_empty_store_gives_identical_history_and_state()
    {
        await using var source = await Given.StoreAsync(witness, snapshotEvery: 5);
        await source.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await source.AppendAsync("demo", 1, [Given.Streaming("n2"), Given.Streaming("n3")]);
        await source.AppendAsync("demo", 3, Given.Failover("f1", 2), fencingToken: 3);
        using var export = new MemoryStream();
        Assert.Equal(11, await source.ExportAsync("demo", export));

        var lines = Encoding.UTF8.GetString(export.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, lines.Length);
        using (var first = JsonDocument.Parse(lines[0]))
        {
            Assert.Equal("cluster_bootstrapped", first.RootElement.GetProperty("type").GetString());
            Assert.Equal("n1", first.RootElement.GetProperty("event").GetProperty("primary").GetString());
        }

        await using var target = await Given.StoreAsync(witness);
        export.Position = 0;
        Assert.Equal(("demo", 11L), await target.ImportAsync(export));

        static string History(HistoryPage page) => JsonSerializer.Serialize(page.Events.Select(e => new { e.Version, e.At, e.Type, e.FencingToken, e.Event.CorrelationId, Event = JsonSerializer.Serialize(e.Event, e.Event.GetType()) }));
        Assert.Equal(History(await source.EventsAsync("demo", new HistoryFilter())), History(await target.EventsAsync("demo", new HistoryFilter())));
        Assert.Equal(JsonSerializer.Serialize(await source.StateAsync("demo")), JsonSerializer.Serialize(await target.StateAsync("demo")));
        Assert.Equal(JsonSerializer.Serialize(await source.RoutingAsync("demo")), JsonSerializer.Serialize(await target.RoutingAsync("demo")));
        var at = (await source.EventsAsync("demo", new HistoryFilter())).Events[2].At;
        Assert.Equal(JsonSerializer.Serialize((await source.StateAtAsync("demo", at: at)).State), JsonSerializer.Serialize((await target.StateAtAsync("demo", at: at)).State));
        Assert.Equal("n2", (await target.ExplainFailoverAsync("demo", "f1")).NewPrimary);

        export.Position = 0;
        var again = await Assert.ThrowsAsync<OperatorError>(() => target.ImportAsync(export));
        Assert.Equal("cluster demo already has 11 events in this witness store; import only into a store without it", again.Message);
    }

    [Theory]
    [InlineData("{\"cluster\":\"x\",\"version\":2,\"at\":\"2026-01-01T00:00:00Z\",\"type\":\"failover_paused\",\"event\":{}}", "import line 1: version 2 where 1 was expected (versions must run from 1 without gaps)")]
    [InlineData("{\"cluster\":\"x\",\"version\":1,\"at\":\"2026-01-01T00:00:00Z\",\"type\":\"node_exploded\",\"event\":{}}", "import line 1: unknown event type 'node_exploded'")]
    [InlineData("not json", "import line 1: ")]
    [InlineData("{\"cluster\":\"x\",\"version\":1,\"at\":\"2026-01-01T00:00:00Z\",\"type\":\"failover_paused\",\"event\":{\"reason\":\"r\",\"by\":{\"kind\":\"User\",\"name\":\"a\"},\"correlationId\":\"c\"}}", "import version 1: FailoverPaused refused: cluster x has no history yet: its first event must be ClusterBootstrapped, not FailoverPaused")]
    public async Task a_bad_export_names_the_line_and_imports_nothing(string content, string message)
    {
        await using var target = await Given.StoreAsync(witness);
        var error = await Assert.ThrowsAsync<OperatorError>(() => target.ImportAsync(new MemoryStream(Encoding.UTF8.GetBytes(content + "\n"))));
        Assert.StartsWith(message, error.Message);
        Assert.Empty(await target.ClustersAsync());
    }
}
