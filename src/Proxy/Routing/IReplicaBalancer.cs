using HA.Core.State;

namespace HA.Proxy.Routing;

/// <summary>A balancing policy for the replica port: picks one of the replicas that serve reads.</summary>
public interface IReplicaBalancer
{
    string Name { get; }

    ReplicaRoute? Pick(IReadOnlyList<ReplicaRoute> serving);
}

/// <summary>Each new client to the next replica in turn.</summary>
public sealed class RoundRobinBalancer : IReplicaBalancer
{
    private int _next = -1;

    public string Name => "round-robin";

    public ReplicaRoute? Pick(IReadOnlyList<ReplicaRoute> serving)
    {
        if (serving.Count == 0) return null;
        var turn = (uint)Interlocked.Increment(ref _next);
        return serving[(int)(turn % (uint)serving.Count)];
    }
}
