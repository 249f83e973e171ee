using HA.Agent.Directives;
using HA.Agent.Postgres;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Projections;
using HA.Testing;
using Npgsql;

namespace HA.Cluster.Tests.Failover;

/// <summary>
/// The coordinator's pure decisions, appended to a real witness store, executed by each node's
/// directive runner on a real cluster: the primary crashes, the best replica is promoted, the other
/// repointed, the old primary rewound. Directives are handed to the runners in-process here; the
/// Wolverine queues that carry them between processes come with `pgha run`.
/// </summary>
public sealed class coordinator_decisions_drive_a_real_failover
{
    private const string Cluster = "test";

    [Fact]
    public async Task a_crashed_primary_is_replaced_without_losing_replicated_writes_and_rejoins_as_a_replica()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 3);
        var local = cluster.Cluster;
        await using var store = await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = NodeProbe.ConnectionString(local.Witness.Settings, "pgha") });
        var peers = local.Nodes.ToDictionary(n => n.Settings.Name, n => new ReplicationSource(n.Settings.ListenAddress, n.Settings.Port));
        var runners = local.Nodes.ToDictionary(n => n.Settings.Name, n => new DirectiveRunner(new NodeAgentContext(n, local.Credentials, peers), TimeProvider.System));
        await store.AppendAsync(Cluster, 0, [
            new ClusterBootstrapped(Cluster, "n1", 1, "0/0", local.Nodes.Select(n => new NodeSpec(n.Settings.Name, n.Settings.ListenAddress, n.Settings.Port)).ToList()) { By = Initiator.System, CorrelationId = "bootstrap" },
            .. local.Nodes.Skip(1).Select(n => new ReplicationStateChanged(n.Settings.Name, ReplicationStatus.Streaming, "async", 0, "n1", "streaming") { By = Initiator.Agent(n.Settings.Name), CorrelationId = "probe" }),
        ]);

        // Writes acknowledged by the primary, replicated before it crashes.
        var (n1, n2, n3) = (local.Node("n1"), local.Node("n2"), local.Node("n3"));
        await Sql(n1, "CREATE TABLE acknowledged (id int PRIMARY KEY)");
        for (var i = 1; i <= 200; i++) await Sql(n1, $"INSERT INTO acknowledged VALUES ({i})");
        var written = (await NodeProbe.ReadAsync(n1.Settings, default)).CurrentLsn!.Value;
        foreach (var replica in new[] { n2, n3 })
            await Eventually.HoldsAsync(() => NodeProbe.ReadAsync(replica.Settings, default), s => s.ReplayedLsn >= written, TimeSpan.FromSeconds(30), $"{replica.Settings.Name} to replay every acknowledged write");
        await n1.StopAsync(StopMode.Immediate, default);

        // The coordinator (n3, token 5) loops: judge, decide, append, deliver, record the outcome.
        var ids = 0;
        string? lastWhy = null;
        for (var round = 0; round < 20; round++)
        {
            var state = await store.StateAsync(Cluster);
            if (state.Primary != "n1" && state.Failover is null) break;
            var reports = new Dictionary<string, NodeReport>();
            foreach (var node in local.Nodes.Where(n => n.ServerProcessId() is not null))
            {
                var seen = await NodeProbe.ReadAsync(node.Settings, default);
                reports[node.Settings.Name] = new NodeReport(node.Settings.Name, NodeHealth.Healthy, seen.InRecovery, seen.ReceivedLsn, seen.ReplayedLsn, DateTimeOffset.UtcNow);
            }
            var verdict = FailureDetector.JudgePrimary(state, new PrimaryEvidence(null, null, []), new DetectionSettings(), DateTimeOffset.UtcNow);
            var decision = FailoverSteps.Next(state, verdict,
                () => FailoverPolicy.ChooseCandidate(state, reports, written, new FailoverSettings(), DateTimeOffset.UtcNow),
                primaryLeaseHolder: null,
                new CoordinatorContext("n3", 5, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(2), () => $"op{++ids}"));
            lastWhy = decision.Why;
            if (decision.Events.Count == 0) continue;
            await store.AppendAsync(Cluster, state.Version, decision.Events, fencingToken: 5);
            foreach (var directive in decision.Events.OfType<DirectiveIssued>())
            {
                var result = await runners[directive.Node].RunAsync(new DirectiveEnvelope(Cluster, directive), default);
                await store.AppendAsync(Cluster, await store.VersionAsync(Cluster), [result.ToEvent()], fencingToken: 5);
            }
        }

        var after = await store.StateAsync(Cluster);
        Assert.True(after.Primary is "n2" or "n3" && after.Failover is null, $"failover did not finish; last decision: {lastWhy}");
        // Both replicas replayed everything: either may win (by received LSN, then name); the other follows it.
        var (primary, other) = after.Primary == "n2" ? (n2, n3) : (n3, n2);
        var (primaryName, otherName) = (primary.Settings.Name, other.Settings.Name);
        Assert.Equal(2, after.Term);
        Assert.Equal(primaryName, (await store.RoutingAsync(Cluster)).Primary?.Node);
        Assert.Equal("200", await Scalar(primary, "SELECT count(*)::text FROM acknowledged"));
        await Sql(primary, "INSERT INTO acknowledged VALUES (201)");
        await Eventually.HoldsAsync(() => Scalar(other, "SELECT count(*)::text FROM acknowledged"), c => c == "201", TimeSpan.FromSeconds(60), $"{otherName} following {primaryName}");

        var story = await store.ExplainFailoverAsync(Cluster, "op1");
        Assert.Equal(("n1", primaryName, "completed"), (story.OldPrimary, story.NewPrimary, story.Outcome));
        Assert.NotNull(story.Candidates.Single(c => c.Node == otherName).RejectedBecause);
        Assert.Equal([(DirectiveKind.Fence, "succeeded"), (DirectiveKind.Promote, "succeeded"), (DirectiveKind.Repoint, "succeeded")],
            story.Directives.Select(d => (d.Kind, d.Outcome)));

        // The old primary comes back: the coordinator has it rewound, and it follows n2.
        var rewind = new DirectiveIssued("op-rewind", "n1", DirectiveKind.Rewind, 2, 5, DateTimeOffset.UtcNow.AddMinutes(2), new Rewind(primaryName)) { By = Initiator.Coordinator("n3"), CorrelationId = "rejoin" };
        await store.AppendAsync(Cluster, after.Version, [rewind], fencingToken: 5);
        var rewound = await runners["n1"].RunAsync(new DirectiveEnvelope(Cluster, rewind), default);
        Assert.True(rewound.Succeeded, rewound.Detail);
        Assert.Same(rewound, await runners["n1"].RunAsync(new DirectiveEnvelope(Cluster, rewind), default)); // delivered twice, run once
        await store.AppendAsync(Cluster, after.Version + 1, [rewound.ToEvent(), new NodeRejoined("n1", "rewind", 2, rewound.Duration) { By = Initiator.Coordinator("n3"), CorrelationId = "rejoin" }], fencingToken: 5);
        await Eventually.HoldsAsync(() => Scalar(n1, "SELECT count(*)::text FROM acknowledged"), c => c == "201", TimeSpan.FromSeconds(60), $"n1 following {primaryName} after the rewind");
        Assert.Equal(NodeRole.Replica, (await store.StateAsync(Cluster)).Nodes["n1"].Role);

        // A deposed coordinator's directive is refused by the witness store (nothing appended, nothing sent)…
        var stale = new DirectiveIssued("op-stale", otherName, DirectiveKind.Promote, 2, 4, DateTimeOffset.UtcNow.AddMinutes(1), new Promote(null)) { By = Initiator.Coordinator("n1"), CorrelationId = "stale" };
        var version = await store.VersionAsync(Cluster);
        var rejected = await Assert.ThrowsAsync<EventRejectedError>(() => store.AppendAsync(Cluster, version, [stale], fencingToken: 4));
        Assert.Contains("fencing token 4 is older than 5", rejected.Message, StringComparison.Ordinal);
        Assert.Equal(version, await store.VersionAsync(Cluster));
        // …and by the agent, should an old one still be delivered.
        var refused = await runners[otherName].RunAsync(new DirectiveEnvelope(Cluster, stale), default);
        Assert.False(refused.Succeeded);
        Assert.Equal("refused: fencing token 4 is older than 5 already seen (a deposed coordinator)", refused.Detail);
        Assert.True((await NodeProbe.ReadAsync(other.Settings, default)).InRecovery);
    }

    private static async Task Sql(PostgresInstance node, string sql)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node.Settings));
        await connection.OpenAsync();
        await new NpgsqlCommand(sql, connection).ExecuteNonQueryAsync();
    }

    private static async Task<string?> Scalar(PostgresInstance node, string sql)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node.Settings));
        await connection.OpenAsync();
        return (await new NpgsqlCommand(sql, connection).ExecuteScalarAsync())?.ToString();
    }
}
