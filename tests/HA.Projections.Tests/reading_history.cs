using System.Text.Json;
using HA.Core.Events;
using HA.Core.State;
using HA.Projections;
using HA.Testing;

namespace HA.Projections.Tests;

[Collection(WitnessCollection.Name)]
public sealed class reading_history(TestWitness witness)
{
    private static string Json(object value) => JsonSerializer.Serialize(value);

    /// <summary>demo: bootstrap, replicas streaming, then a failover n1 → n2 in one append of its own.</summary>
    private static async Task<WitnessStore> FailedOverAsync(TestWitness witness, int snapshotEvery = 1000)
    {
        var store = await Given.StoreAsync(witness, snapshotEvery);
        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await store.AppendAsync("demo", 1, [Given.Streaming("n2")]);
        await store.AppendAsync("demo", 2, [Given.Streaming("n3")]);
        await store.AppendAsync("demo", 3, Given.Failover("f1", 2), fencingToken: 7);
        return store;
    }

    [Fact]
    public async Task time_travel_returns_the_state_before_and_after_a_failover()
    {
        await using var store = await FailedOverAsync(witness);
        var history = (await store.EventsAsync("demo", new HistoryFilter())).Events;
        var beforeFailover = history.Single(e => e.Version == 3).At;
        var afterFailover = history[^1].At;
        Assert.True(afterFailover > beforeFailover, $"{afterFailover:O} should be after {beforeFailover:O}");

        var (before, beforeRouting) = await store.StateAtAsync("demo", at: beforeFailover);
        Assert.Equal(("n1", 1L, 3L), (before.Primary, before.Term, before.Version));
        Assert.Equal("n1", beforeRouting.Primary?.Node);
        Assert.Null(before.Failover);

        var (after, afterRouting) = await store.StateAtAsync("demo", at: afterFailover.AddMinutes(5));
        Assert.Equal(("n2", 2L, 11L), (after.Primary, after.Term, after.Version));
        Assert.Equal("n2", afterRouting.Primary?.Node);
        Assert.Equal(NodeRole.FormerPrimary, after.Nodes["n1"].Role);

        var (midway, midRouting) = await store.StateAtAsync("demo", version: 7);
        Assert.True(midway.Nodes["n1"].Fenced);
        Assert.Null(midRouting.Primary);
        Assert.Equal("f1", midway.Failover?.Id);
    }

    [Fact]
    public async Task time_travel_outside_the_history_is_a_clear_error()
    {
        await using var store = await FailedOverAsync(witness);
        var bootstrappedAt = (await store.StateAsync("demo")).BootstrappedAt!.Value;
        var tooEarly = await Assert.ThrowsAsync<HistoryRangeError>(() => store.StateAtAsync("demo", at: bootstrappedAt.AddSeconds(-1)));
        Assert.Equal($"cluster demo did not exist at {bootstrappedAt.AddSeconds(-1):O}: its history starts at {bootstrappedAt:O}", tooEarly.Message);
        var noVersion = await Assert.ThrowsAsync<HistoryRangeError>(() => store.StateAtAsync("demo", version: 12));
        Assert.Equal("cluster demo has versions 1 to 11; there is no version 12", noVersion.Message);
        await Assert.ThrowsAsync<UnknownClusterError>(() => store.StateAtAsync("nope", version: 1));
    }

    [Fact]
    public async Task every_version_through_snapshots_equals_a_replay_of_its_prefix()
    {
        await using var store = await Given.StoreAsync(witness, snapshotEvery: 4);
        await store.AppendAsync("snap", 0, [Given.Bootstrap("snap")]);
        var health = new[] { NodeHealth.Healthy, NodeHealth.Unhealthy, NodeHealth.Unreachable };
        for (var i = 0; i < 21; i++)
            await store.AppendAsync("snap", await store.VersionAsync("snap"), i % 5 == 0 ? [Given.Streaming("n2", i), Given.Streaming("n3", i)] : [Given.Health($"n{i % 3 + 1}", health[i % 3])]);
        var version = await store.VersionAsync("snap");
        var all = (await store.EventsAsync("snap", new HistoryFilter { Limit = 1000 })).Events;
        Assert.Equal(version, all.Count);

        for (var v = 1; v <= version; v++)
        {
            var (state, routing) = await store.StateAtAsync("snap", version: v);
            var expected = ClusterState.Replay(all.Take(v).Select(e => (e.Event, e.Stamp)));
            Assert.Equal(Json(expected), Json(state));
            Assert.Equal(Json(RoutingFacts.From(expected)), Json(routing));

            // At the time of event v: the last event at or before that time (a batch shares one time).
            var at = all[v - 1].At;
            var (atTime, _) = await store.StateAtAsync("snap", at: at);
            Assert.Equal(all.Where(e => e.At <= at).Max(e => e.Version), atTime.Version);
            Assert.Equal(Json(ClusterState.Replay(all.Take((int)atTime.Version).Select(e => (e.Event, e.Stamp)))), Json(atTime));
        }
        Assert.Equal(all.Select(e => e.At).Order(), all.Select(e => e.At));
    }

    [Fact]
    public async Task a_full_rebuild_from_the_raw_events_equals_the_live_projections()
    {
        await using var store = await FailedOverAsync(witness, snapshotEvery: 3);
        await store.AppendAsync("demo", 11, [new NodeRejoined("n1", "rewind", 2, TimeSpan.FromSeconds(2)) { By = Initiator.Agent("n1"), CorrelationId = "f1" }, Given.Streaming("n1")], fencingToken: 7);
        var liveState = Json(await store.StateAsync("demo"));
        var liveRouting = Json(await store.RoutingAsync("demo"));
        var liveNodes = await Task.WhenAll(new[] { "n1", "n2", "n3" }.Select(async n => Json(await store.NodeAsync("demo", n))));

        Assert.Equal(liveState, Json(await store.ReplayAsync("demo")));

        var rebuilt = await store.RebuildProjectionsAsync("demo");
        Assert.Equal(liveState, Json(rebuilt));
        Assert.Equal(liveState, Json(await store.StateAsync("demo")));
        Assert.Equal(liveRouting, Json(await store.RoutingAsync("demo")));
        Assert.Equal(liveNodes, await Task.WhenAll(new[] { "n1", "n2", "n3" }.Select(async n => Json(await store.NodeAsync("demo", n)))));
    }

    [Fact]
    public async Task explain_tells_a_failover_with_candidates_reasons_and_directive_outcomes()
    {
        await using var store = await FailedOverAsync(witness);
        var story = await store.ExplainFailoverAsync("demo", "f1");
        Assert.Equal(("primary n1 unreachable", "n1", "n2", "n2"), (story.Trigger, story.OldPrimary, story.Chosen, story.NewPrimary));
        Assert.Equal("behind n2", story.Candidates.Single(c => c.Node == "n3").RejectedBecause);
        Assert.Equal([(DirectiveKind.Fence, "succeeded", TimeSpan.FromMilliseconds(40)), (DirectiveKind.Promote, "succeeded", TimeSpan.FromMilliseconds(700))],
            story.Directives.Select(d => (d.Kind, d.Outcome, d.Duration!.Value)));
        Assert.Equal("completed", story.Outcome);
        Assert.Equal(8, story.Events.Count);

        var unknown = await Assert.ThrowsAsync<HA.Core.Errors.OperatorError>(() => store.ExplainFailoverAsync("demo", "f9"));
        Assert.Equal("cluster demo has no failover 'f9' (its failovers: f1)", unknown.Message);
    }

    [Fact]
    public async Task history_filters_by_time_node_type_and_correlation_and_pages()
    {
        await using var store = await FailedOverAsync(witness);
        var all = (await store.EventsAsync("demo", new HistoryFilter())).Events;

        Assert.Equal(["replication_state_changed", "failover_started", "directive_issued", "directive_succeeded", "primary_changed", "failover_completed"],
            (await store.EventsAsync("demo", new HistoryFilter { Node = "n2", AfterVersion = 1 })).Events.Select(e => e.Type));
        Assert.Equal([5L, 8L], (await store.EventsAsync("demo", new HistoryFilter { Types = ["directive_issued"] })).Events.Select(e => e.Version));
        Assert.Equal(8, (await store.EventsAsync("demo", new HistoryFilter { CorrelationId = "f1" })).Events.Count);
        Assert.Equal(all.Where(e => e.At >= all[3].At).Select(e => e.Version),
            (await store.EventsAsync("demo", new HistoryFilter { Since = all[3].At })).Events.Select(e => e.Version));
        Assert.Equal([1L, 2L, 3L], (await store.EventsAsync("demo", new HistoryFilter { Until = all[2].At })).Events.Select(e => e.Version));

        var pages = new List<long>();
        long? after = null;
        do
        {
            var page = await store.EventsAsync("demo", new HistoryFilter { Limit = 4, AfterVersion = after });
            Assert.True(page.Events.Count <= 4);
            pages.AddRange(page.Events.Select(e => e.Version));
            after = page.NextAfterVersion;
        }
        while (after is not null);
        Assert.Equal(all.Select(e => e.Version), pages);

        var badType = await Assert.ThrowsAsync<HA.Core.Errors.OperatorError>(() => store.EventsAsync("demo", new HistoryFilter { Types = ["node_exploded"] }));
        Assert.StartsWith("unknown event type 'node_exploded' (known: cluster_bootstrapped, ", badType.Message);
        var badNode = await Assert.ThrowsAsync<HA.Core.Errors.OperatorError>(() => store.EventsAsync("demo", new HistoryFilter { Node = "n7" }));
        Assert.Equal("unknown node 'n7' in cluster demo (members: n1, n2, n3)", badNode.Message);
        await Assert.ThrowsAsync<UnknownClusterError>(() => store.EventsAsync("nope", new HistoryFilter()));
    }

    [Fact]
    public async Task two_clusters_in_one_store_never_see_each_others_events()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("east", 0, [Given.Bootstrap("east")]);
        await store.AppendAsync("west", 0, [Given.Bootstrap("west", nodes: 2)]);
        await store.AppendAsync("east", 1, Given.Failover("f-east", 2));
        await store.AppendAsync("west", 1, [Given.Streaming("n2")]);

        Assert.Equal(["east", "west"], await store.ClustersAsync());
        Assert.Equal(9, (await store.EventsAsync("east", new HistoryFilter())).Events.Count);
        Assert.Equal(["cluster_bootstrapped", "replication_state_changed"], (await store.EventsAsync("west", new HistoryFilter())).Events.Select(e => e.Type));
        Assert.All((await store.EventsAsync("west", new HistoryFilter())).Events, e => Assert.Equal("west", e.Cluster));
        Assert.Equal(("n2", "n1"), ((await store.StateAsync("east")).Primary, (await store.StateAsync("west")).Primary));
        Assert.Equal(["n1", "n2"], (await store.StateAsync("west")).Nodes.Keys);
        Assert.Empty((await store.EventsAsync("west", new HistoryFilter { CorrelationId = "f-east" })).Events);
        await Assert.ThrowsAsync<HA.Core.Errors.OperatorError>(() => store.ExplainFailoverAsync("west", "f-east"));
        var wrongName = await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("north", 0, [Given.Bootstrap("south")]));
        Assert.Equal("cluster north: ClusterBootstrapped refused: it names cluster south", wrongName.Message);
    }
}
