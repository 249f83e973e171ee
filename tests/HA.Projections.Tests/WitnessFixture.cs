using HA.Core.Directives;
using HA.Core.Events;
using HA.Projections;
using HA.Testing;

namespace HA.Projections.Tests;

[CollectionDefinition(Name)]
public sealed class WitnessCollection : ICollectionFixture<TestWitness>
{
    public const string Name = "witness";
}

/// <summary>Events for tests, with the initiator and correlation id every event needs.</summary>
internal static class Given
{
    public static readonly Initiator Coordinator = Initiator.Coordinator("n1");

    public static async Task<WitnessStore> StoreAsync(TestWitness witness, int snapshotEvery = 1000) =>
        await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = await witness.NewDatabaseAsync(), SnapshotEvery = snapshotEvery });

    public static ClusterBootstrapped Bootstrap(string cluster, int nodes = 3) =>
        new(cluster, "n1", 1, "0/3000000", Enumerable.Range(1, nodes).Select(i => new NodeSpec($"n{i}", "127.0.0.1", 5500 + i)).ToList())
        { By = Initiator.System, CorrelationId = "bootstrap-" + cluster };

    public static ReplicationStateChanged Streaming(string node, long lag = 0) =>
        new(node, ReplicationStatus.Streaming, "async", lag, "n1", "streaming") { By = Initiator.Agent(node), CorrelationId = "probe-" + node };

    public static NodeHealthChanged Health(string node, NodeHealth health) =>
        new(node, health, "probe", [node]) { By = Initiator.Agent(node), CorrelationId = Guid.NewGuid().ToString("N") };

    /// <summary>The events of a complete failover from n1 to n2 in term <paramref name="term"/>, all with the failover id as correlation id.</summary>
    public static ClusterEvent[] Failover(string id, long term, string from = "n1", string to = "n2") =>
    [
        new FailoverStarted(id, term, $"primary {from} unreachable", from, to,
            [new CandidateAssessment(to, "0/5000000", 0, 0, null), new CandidateAssessment("n3", "0/4000000", 4096, 0, "behind " + to)],
            [new Observation(to, from, false, "connection refused")]) { By = Coordinator, CorrelationId = id },
        new DirectiveIssued(id + "-fence", from, DirectiveKind.Fence, term, 1, DateTimeOffset.UtcNow.AddMinutes(1), new Fence()) { By = Coordinator, CorrelationId = id },
        new DirectiveSucceeded(id + "-fence", from, TimeSpan.FromMilliseconds(40), "fenced") { By = Initiator.Agent(from), CorrelationId = id },
        new NodeFenced(from, term, "acknowledged", TimeSpan.FromSeconds(2)) { By = Coordinator, CorrelationId = id },
        new DirectiveIssued(id + "-promote", to, DirectiveKind.Promote, term, 1, DateTimeOffset.UtcNow.AddMinutes(1), new Promote(null)) { By = Coordinator, CorrelationId = id },
        new DirectiveSucceeded(id + "-promote", to, TimeSpan.FromMilliseconds(700), "promoted") { By = Initiator.Agent(to), CorrelationId = id },
        new PrimaryChanged(term, to, from, (int)term, "0/5000100") { By = Coordinator, CorrelationId = id },
        new FailoverCompleted(id, term, to, TimeSpan.FromSeconds(1)) { By = Coordinator, CorrelationId = id },
    ];
}
