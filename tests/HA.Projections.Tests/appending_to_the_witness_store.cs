using HA.Core.Events;
using HA.Core.State;
using HA.Projections;
using HA.Testing;

namespace HA.Projections.Tests;

[Collection(WitnessCollection.Name)]
public sealed class appending_to_the_witness_store(TestWitness witness)
{
    [Fact]
    public async Task an_append_updates_state_routing_and_node_views_in_the_same_transaction()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        var state = await store.AppendAsync("demo", 1, [Given.Streaming("n2"), Given.Streaming("n3", lag: 1 << 30)], fencingToken: 4);

        Assert.Equal(3, state.Version);
        Assert.Equal(3, await store.VersionAsync("demo"));
        Assert.Equal(3, (await store.StateAsync("demo")).Version);
        var routing = RoutingTable.From(await store.RoutingAsync("demo"), maxReplicaLagBytes: 16 * 1024 * 1024);
        Assert.Equal("n1", routing.Primary?.Node);
        Assert.Equal(["n2"], routing.Replicas.Where(r => r.ServesReads).Select(r => r.Node));
        Assert.Equal($"lag {1 << 30} bytes exceeds {16 * 1024 * 1024}", routing.Replicas.Single(r => r.Node == "n3").ExcludedBecause);
        var n2 = await store.NodeAsync("demo", "n2");
        Assert.Equal(ReplicationStatus.Streaming, n2.Replication);

        var history = await store.EventsAsync("demo", new HistoryFilter());
        Assert.Equal(["cluster_bootstrapped", "replication_state_changed", "replication_state_changed"], history.Events.Select(e => e.Type));
        Assert.Equal([null, 4L, 4L], history.Events.Select(e => e.FencingToken));
        // One transaction, one database time: the state's stamps are the events' stamps.
        Assert.Equal(history.Events[^1].At, (await store.StateAsync("demo")).LastChangeAt);
        Assert.Equal(history.Events[^1].At, n2.LastChangeAt);
    }

    [Fact]
    public async Task concurrent_appends_with_the_same_expected_version_let_exactly_one_win()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("race", 0, [Given.Bootstrap("race")]);
        for (var round = 0; round < 25; round++)
        {
            var expected = await store.VersionAsync("race");
            using var start = new ManualResetEventSlim();
            var contenders = Enumerable.Range(0, 2).Select(i => Task.Run(async () =>
            {
                start.Wait();
                try
                {
                    await store.AppendAsync("race", expected, [Given.Health("n2", i == 0 ? NodeHealth.Unhealthy : NodeHealth.Healthy)]);
                    return (Exception?)null;
                }
                catch (Exception e)
                {
                    return e;
                }
            })).ToArray();
            start.Set();
            var outcomes = await Task.WhenAll(contenders);

            Assert.Single(outcomes, o => o is null);
            var loser = Assert.IsType<WitnessConcurrencyException>(Assert.Single(outcomes, o => o is not null));
            Assert.Equal(expected, loser.ExpectedVersion);
            Assert.Equal(expected + 1, loser.ActualVersion);
            Assert.Equal(expected + 1, await store.VersionAsync("race"));
        }
        var all = await store.EventsAsync("race", new HistoryFilter { Limit = 1000 });
        Assert.Equal(Enumerable.Range(1, 26).Select(v => (long)v), all.Events.Select(e => e.Version));
    }

    [Fact]
    public async Task two_bootstraps_of_a_new_cluster_race_and_one_wins()
    {
        await using var store = await Given.StoreAsync(witness);
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            try { await store.AppendAsync("fresh", 0, [Given.Bootstrap("fresh")]); return (Exception?)null; }
            catch (Exception e) { return e; }
        })));
        Assert.Single(outcomes, o => o is null);
        Assert.IsType<WitnessConcurrencyException>(Assert.Single(outcomes, o => o is not null));
        Assert.Equal(1, await store.VersionAsync("fresh"));
    }

    [Fact]
    public async Task a_stale_expected_version_is_refused_before_anything_is_written()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await store.AppendAsync("demo", 1, [Given.Streaming("n2")]);
        var error = await Assert.ThrowsAsync<WitnessConcurrencyException>(() => store.AppendAsync("demo", 1, [Given.Streaming("n3")]));
        Assert.Equal("cluster demo is at version 2, not at the expected version 1: another appender won the race; reload the state and decide again", error.Message);
        Assert.Equal(2, await store.VersionAsync("demo"));
    }

    [Fact]
    public async Task bad_input_is_refused_with_a_clear_error_and_nothing_is_appended()
    {
        await using var store = await Given.StoreAsync(witness);
        var unknownCluster = await Assert.ThrowsAsync<UnknownClusterError>(() => store.StateAsync("ghost"));
        Assert.Equal("unknown cluster 'ghost': the witness store holds no cluster yet", unknownCluster.Message);
        var notBootstrapped = await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("ghost", 0, [Given.Streaming("n2")]));
        Assert.Equal("cluster ghost: ReplicationStateChanged refused: cluster ghost has no history yet: its first event must be ClusterBootstrapped, not ReplicationStateChanged", notBootstrapped.Message);
        Assert.Equal(0, await store.VersionAsync("ghost"));

        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await store.AppendAsync("demo", 1, Given.Failover("f1", 2)[..1], fencingToken: 5);

        var unknownNode = await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("demo", 2, [Given.Streaming("n2"), Given.Streaming("n9")], fencingToken: 5));
        Assert.Equal("cluster demo: ReplicationStateChanged refused: unknown node 'n9' in cluster demo (members: n1, n2, n3)", unknownNode.Message);

        var olderTerm = await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("demo", 2,
            [new NodeFenced("n1", 1, "acknowledged", null) { By = Given.Coordinator, CorrelationId = "x" }], fencingToken: 5));
        Assert.Equal("cluster demo: NodeFenced refused: NodeFenced carries term 1, older than the cluster's current term 2", olderTerm.Message);

        var staleToken = await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("demo", 2, [Given.Streaming("n2")], fencingToken: 4));
        Assert.Contains("fencing token 4 is older than 5", staleToken.Message);

        Assert.Equal(2, await store.VersionAsync("demo"));
        Assert.Equal(2, (await store.EventsAsync("demo", new HistoryFilter())).Events.Count);
        Assert.Equal(ReplicationStatus.Unknown, (await store.NodeAsync("demo", "n2")).Replication);

        var unknownNodeView = await Assert.ThrowsAsync<HA.Core.Errors.OperatorError>(() => store.NodeAsync("demo", "n9"));
        Assert.Equal("unknown node 'n9' in cluster demo (members: n1, n2, n3)", unknownNodeView.Message);
        var wrongCluster = await Assert.ThrowsAsync<UnknownClusterError>(() => store.RoutingAsync("other"));
        Assert.Equal("unknown cluster 'other' (the witness store holds: demo)", wrongCluster.Message);
    }

    [Fact]
    public async Task a_committed_append_is_announced_to_listeners_and_a_refused_one_is_not()
    {
        await using var store = await Given.StoreAsync(witness);
        await using var listener = await WitnessChangeListener.StartAsync(store.Options);
        var inProcess = new List<ClusterChanged>();
        store.Changed += inProcess.Add;

        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("demo", 1, [Given.Streaming("n9")]));
        await store.AppendAsync("demo", 1, Given.Failover("f1", 2));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var first = await listener.Changes.ReadAsync(timeout.Token);
        var second = await listener.Changes.ReadAsync(timeout.Token);
        Assert.Equal(new ClusterChanged("demo", 1, 1, "n1"), first);
        Assert.Equal(new ClusterChanged("demo", 9, 2, "n2"), second);
        Assert.Equal([first, second], inProcess);
    }

    [Fact]
    public async Task the_stored_routing_facts_apply_no_readers_limit_and_a_replay_reproduces_them_exactly()
    {
        await using var store = await Given.StoreAsync(witness);
        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        await store.AppendAsync("demo", 1, [Given.Streaming("n2"), Given.Streaming("n3", lag: 5 * 1024 * 1024)], fencingToken: 4);

        var stored = await store.RoutingAsync("demo");
        Assert.Equal(Json(RoutingFacts.From(await store.ReplayAsync("demo"))), Json(stored));
        Assert.Equal(["n2: 0", "n3: 5242880"], stored.Replicas.Select(r => $"{r.Node}: {r.LagBytes}"));

        // Two readers with different proxy.max_replica_lag read the same facts and route differently.
        Assert.Equal(["n2"], RoutingTable.From(stored, maxReplicaLagBytes: 1024 * 1024).Replicas.Where(r => r.ServesReads).Select(r => r.Node));
        Assert.Equal(["n2", "n3"], RoutingTable.From(stored, maxReplicaLagBytes: 16 * 1024 * 1024).Replicas.Where(r => r.ServesReads).Select(r => r.Node));
    }

    [Fact]
    public async Task an_append_is_never_stamped_before_the_streams_last_event()
    {
        // A history whose last event is an hour ahead of the database's clock (a witness that failed
        // over to a host whose clock is behind): the next append must not go back in time.
        await using var source = await Given.StoreAsync(witness);
        await source.AppendAsync("demo", 0, [Given.Bootstrap("demo")]);
        using var export = new MemoryStream();
        await source.ExportAsync("demo", export);
        var ahead = DateTimeOffset.UtcNow.AddHours(1);
        var line = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Encoding.UTF8.GetString(export.ToArray()))!;
        line["at"] = ahead.ToString("O");
        await using var store = await Given.StoreAsync(witness);
        await store.ImportAsync(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(line.ToJsonString() + "\n")));

        await store.AppendAsync("demo", 1, [Given.Streaming("n2")]);

        var events = (await store.EventsAsync("demo", new HistoryFilter())).Events;
        Assert.Equal(ahead.UtcTicks / 10, events[0].At.UtcTicks / 10);
        Assert.True(events[1].At >= events[0].At, $"version 2 at {events[1].At:O} is before version 1 at {events[0].At:O}");
    }

    [Fact]
    public async Task a_participant_commits_with_the_append_and_never_without_it()
    {
        await using var store = await Given.StoreAsync(witness);
        await using (var create = new Npgsql.NpgsqlConnection(store.Options.ConnectionString))
        {
            await create.OpenAsync();
            await using var table = new Npgsql.NpgsqlCommand("CREATE TABLE sent (directive text)", create);
            await table.ExecuteNonQueryAsync();
        }
        var flushed = 0;
        AppendParticipant Sending(bool fail) => async (transaction, events, cancellationToken) =>
        {
            await using var insert = new Npgsql.NpgsqlCommand("INSERT INTO sent VALUES (@d)", transaction.Connection, transaction);
            insert.Parameters.AddWithValue("d", string.Join(",", events.Select(e => e.GetType().Name)));
            await insert.ExecuteNonQueryAsync(cancellationToken);
            if (fail) throw new InvalidOperationException("the outbox failed");
            return () => { flushed++; return Task.CompletedTask; };
        };

        await store.AppendAsync("demo", 0, [Given.Bootstrap("demo")], participant: Sending(fail: false));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.AppendAsync("demo", 1, [Given.Streaming("n2")], participant: Sending(fail: true)));
        await Assert.ThrowsAsync<WitnessConcurrencyException>(() => store.AppendAsync("demo", 0, [Given.Streaming("n2")], participant: Sending(fail: false)));
        await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync("demo", 1, [Given.Streaming("n9")], participant: Sending(fail: false)));

        Assert.Equal(1, await store.VersionAsync("demo"));
        Assert.Equal(1, flushed);
        await using var read = new Npgsql.NpgsqlConnection(store.Options.ConnectionString);
        await read.OpenAsync();
        await using var sent = new Npgsql.NpgsqlCommand("SELECT string_agg(directive, ';') FROM sent", read);
        Assert.Equal("ClusterBootstrapped", await sent.ExecuteScalarAsync());
    }

    private static string Json<T>(T value) => System.Text.Json.JsonSerializer.Serialize(value);
}
