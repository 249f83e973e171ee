using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Tests.State;

/// <summary>Builds a cluster history event by event, checking each one as the witness store would.</summary>
internal sealed class Scenario
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 3, 0, 0, TimeSpan.Zero);

    public ClusterState State { get; } = new() { Cluster = "demo" };

    public List<(ClusterEvent Event, EventStamp Stamp)> History { get; } = [];

    public static Initiator Coordinator => Initiator.Coordinator("n1");

    public static Scenario Bootstrapped(int nodes = 3)
    {
        var scenario = new Scenario();
        scenario.Append(new ClusterBootstrapped("demo", "n1", 1, "0/3000000",
            Enumerable.Range(1, nodes).Select(i => new NodeSpec($"n{i}", "127.0.0.1", 5500 + i)).ToList())
        { By = Initiator.System, CorrelationId = "bootstrap" });
        return scenario;
    }

    public Scenario Append(ClusterEvent e, long? token = null)
    {
        var problem = State.Check(e, token);
        if (problem is not null) throw new InvalidOperationException(problem);
        var stamp = new EventStamp(State.Version + 1, Start.AddSeconds(State.Version + 1), token);
        State.Apply(e, stamp);
        History.Add((e, stamp));
        return this;
    }

    public Scenario Streaming(string node, long lag = 0) =>
        Append(new ReplicationStateChanged(node, ReplicationStatus.Streaming, "async", lag, "n1", "streaming started") { By = Initiator.Agent(node), CorrelationId = "probe" });
}
