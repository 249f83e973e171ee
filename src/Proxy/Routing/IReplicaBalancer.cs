using HA.Core.State;

namespace HA.Proxy.Routing;

/// <summary>A balancing policy for the replica port: picks one of the replicas that serve reads.</summary>
public interface IReplicaBalancer
{
    string Name { get; }

    ReplicaRoute? Pick(IReadOnlyList<ReplicaRoute> serving);
}

/// <summary>The policies proxy.replica_policy names.</summary>
public static class ReplicaBalancers
{
    public static readonly IReadOnlyList<string> Names = ["round-robin", "least-connections", "random", "weighted"];

    /// <summary>The policy called <paramref name="name"/>; null when there is none by that name.</summary>
    public static IReplicaBalancer? Create(string name, ProxyCounters counters, Random random) => name switch
    {
        "round-robin" => new RoundRobinBalancer(),
        "least-connections" => new LeastConnectionsBalancer(counters),
        "random" => new RandomBalancer(random),
        "weighted" => new WeightedBalancer(random),
        _ => null,
    };
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

/// <summary>Each new client to the replica with the fewest open sessions through this proxy (the first listed on a tie).</summary>
public sealed class LeastConnectionsBalancer(ProxyCounters counters) : IReplicaBalancer
{
    public string Name => "least-connections";

    public ReplicaRoute? Pick(IReadOnlyList<ReplicaRoute> serving)
    {
        var open = counters.OpenConnections;
        return serving.MinBy(r => open.GetValueOrDefault(r.Node));
    }
}

/// <summary>Each new client to a replica drawn uniformly (randomness injected, so a test can fix the draw).</summary>
public sealed class RandomBalancer(Random random) : IReplicaBalancer
{
    private readonly Lock _gate = new();

    public string Name => "random";

    public ReplicaRoute? Pick(IReadOnlyList<ReplicaRoute> serving)
    {
        if (serving.Count == 0) return null;
        lock (_gate) return serving[random.Next(serving.Count)];
    }
}

/// <summary>Each new client to a replica drawn in proportion to its weight from the routing table (a weight of 0 gets none).</summary>
public sealed class WeightedBalancer(Random random) : IReplicaBalancer
{
    private readonly Lock _gate = new();

    public string Name => "weighted";

    public ReplicaRoute? Pick(IReadOnlyList<ReplicaRoute> serving)
    {
        long total = serving.Sum(r => (long)Math.Max(0, r.Weight));
        if (total == 0) return null;
        long draw;
        lock (_gate) draw = random.NextInt64(total);
        foreach (var replica in serving)
        {
            draw -= Math.Max(0, replica.Weight);
            if (draw < 0) return replica;
        }
        return serving[^1];
    }
}
