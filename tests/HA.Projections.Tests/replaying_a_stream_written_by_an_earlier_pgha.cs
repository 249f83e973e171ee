using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using HA.Core.History;
using HA.Core.State;
using HA.Projections;
using HA.Testing;

namespace HA.Projections.Tests;

/// <summary>
/// Events already stored must still load (CONVENTIONS): TestData/cluster-stream-ef2900c.jsonl is a real
/// cluster's stream exported by pgha at commit ef2900c, and cluster-facts-ef2900c.json what that
/// pgha computed from it (see TestData/README.md). Importing the stream into a fresh witness and
/// replaying it must give the same facts: the state, the routing and the history lines. Facts, not the
/// events' JSON, are compared, so an event's representation may change as long as it reads the same.
/// </summary>
[Collection(WitnessCollection.Name)]
public sealed class replaying_a_stream_written_by_an_earlier_pgha(TestWitness witness)
{
    private const string Stream = "TestData/cluster-stream-ef2900c.jsonl";
    private const string Facts = "TestData/cluster-facts-ef2900c.json";

    /// <summary>The proxy.max_replica_lag the facts' routing tables were computed with (the default).</summary>
    private const long MaxReplicaLag = 16 * 1024 * 1024;

    /// <summary>The versions whose state, found by time travel (by time and by version), is compared as well.</summary>
    private static readonly long[] Milestones = [8, 20, 31, 39, 50, 57];

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    [Fact]
    public async Task imports_and_replays_to_the_state_routing_and_history_that_pgha_computed()
    {
        var expected = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, Facts));
        await using var store = await Given.StoreAsync(witness);
        await using (var input = File.OpenRead(Path.Combine(AppContext.BaseDirectory, Stream)))
            Assert.Equal(("test", 70L), await store.ImportAsync(input));

        var actual = JsonSerializer.Serialize(await FactsAsync(store, "test"), Json);
        Assert.Equal(expected.ReplaceLineEndings("\n").Trim(), actual.ReplaceLineEndings("\n").Trim());
    }

    /// <summary>What a reader of the witness sees of <paramref name="cluster"/>: the live projections, a replay from nothing, time travel and the history lines.</summary>
    internal static async Task<ClusterFacts> FactsAsync(WitnessStore store, string cluster)
    {
        var live = await store.StateAsync(cluster);
        var replayed = await store.ReplayAsync(cluster);
        var events = new List<RecordedEvent>();
        for (long? after = 0; after is not null;)
        {
            var page = await store.EventsAsync(cluster, new HistoryFilter { AfterVersion = after, Limit = WitnessStore.MaxPageSize });
            events.AddRange(page.Events);
            after = page.NextAfterVersion;
        }
        var milestones = new List<MilestoneFacts>();
        foreach (var version in Milestones)
        {
            var byVersion = await store.StateAtAsync(cluster, version: version);
            var byTime = await store.StateAtAsync(cluster, at: events.Single(e => e.Version == version).At);
            milestones.Add(new MilestoneFacts(version, State(byVersion.State), Routing(RoutingTable.From(byVersion.Routing, MaxReplicaLag)), byTime.State.Version, State(byTime.State) == State(byVersion.State)));
        }
        return new ClusterFacts(
            State(live),
            State(replayed) == State(live),
            Routing(RoutingTable.From(await store.RoutingAsync(cluster), MaxReplicaLag)),
            events.Select(e => $"{e.Version.ToString(CultureInfo.InvariantCulture)}  {e.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture)}  {EventLine.Describe(e)}").ToList(),
            milestones);
    }

    private static StateFacts State(ClusterState s) => new(
        s.Version, s.Term, s.PrimaryTerm, s.Timeline, s.Primary, s.PrimaryLsn, s.Coordinator, s.CoordinatorToken, s.HighestFencingToken,
        s.Paused, s.PausedReason, s.SynchronousMode.ToString(), s.SynchronousNodeCount, string.Join(",", s.SynchronousStandbys),
        s.SynchronousApplied is { } a ? $"{a.Node}: {a.Value} from {a.Lsn}" : null,
        s.ParametersVersion, string.Join(", ", s.Parameters.Select(p => $"{p.Key}={p.Value}")), string.Join(",", s.PendingRestart),
        string.Join(", ", s.PendingDirectives.Values.Select(d => $"{d.Kind} {d.Node} term {d.Term}")),
        s.Failover?.Id, s.Switchover?.Id, s.BootstrappedAt, s.LastChangeAt,
        s.Nodes.Values.Select(n => new NodeFacts(n.Name, n.Host, n.Port, n.Role.ToString(), n.Health.ToString(), n.Fenced, n.Detached, n.DetachedReason,
            n.Replication.ToString(), n.SyncState, n.LagBytes, n.Upstream, n.Timeline, n.ParametersVersion, string.Join(",", n.PendingRestart), n.LastChangeVersion)).ToList());

    private static RoutingFacts Routing(RoutingTable t) => new(
        t.Cluster, t.Term, t.Version, t.Primary is { } p ? $"{p.Node} {p.Host}:{p.Port}" : null,
        t.Replicas.Select(r => new ReplicaFacts(r.Node, r.Host, r.Port, r.Health.ToString(), r.LagBytes, r.Weight, r.ServesReads, r.ExcludedBecause)).ToList());

    internal sealed record ClusterFacts(StateFacts Live, bool ReplayEqualsLive, RoutingFacts Routing, IReadOnlyList<string> History, IReadOnlyList<MilestoneFacts> Milestones);

    internal sealed record MilestoneFacts(long Version, StateFacts State, RoutingFacts Routing, long VersionFoundByTime, bool ByTimeEqualsByVersion);

    internal sealed record StateFacts(
        long Version, long Term, long PrimaryTerm, int Timeline, string? Primary, string? PrimaryLsn, string? Coordinator, long CoordinatorToken, long HighestFencingToken,
        bool Paused, string? PausedReason, string SynchronousMode, int SynchronousNodeCount, string SynchronousStandbys, string? SynchronousApplied,
        long ParametersVersion, string Parameters, string PendingRestart, string PendingDirectives, string? Failover, string? Switchover,
        DateTimeOffset? BootstrappedAt, DateTimeOffset? LastChangeAt, IReadOnlyList<NodeFacts> Nodes)
    {
        public bool Equals(StateFacts? other) => other is not null && JsonSerializer.Serialize(this, Json) == JsonSerializer.Serialize(other, Json);

        public override int GetHashCode() => Version.GetHashCode();
    }

    internal sealed record NodeFacts(string Name, string Host, int Port, string Role, string Health, bool Fenced, bool Detached, string? DetachedReason,
        string Replication, string? SyncState, long? LagBytes, string? Upstream, int? Timeline, long ParametersVersion, string PendingRestart, long LastChangeVersion);

    internal sealed record RoutingFacts(string Cluster, long Term, long Version, string? Primary, IReadOnlyList<ReplicaFacts> Replicas);

    internal sealed record ReplicaFacts(string Node, string Host, int Port, string Health, long? LagBytes, int Weight, bool ServesReads, string? ExcludedBecause);
}
