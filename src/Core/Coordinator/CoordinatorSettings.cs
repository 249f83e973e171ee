using HA.Core.Failover;

namespace HA.Core.Coordinator;

/// <summary>The coordinator's timings and limits.</summary>
public sealed record CoordinatorSettings
{
    public DetectionSettings Detection { get; init; } = new();
    public FailoverSettings Failover { get; init; } = new();

    /// <summary>failover.directive_timeout: how long FENCE, PROMOTE, REPOINT and CHECKPOINT may take before they expire.</summary>
    public TimeSpan DirectiveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long REWIND and REINITIALIZE may take (a base backup can be long).</summary>
    public TimeSpan RejoinTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How often the decision loop looks at the evidence.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>switchover.max_lag: a switchover target further behind the primary is refused.</summary>
    public long SwitchoverMaxLag { get; init; } = 1024 * 1024;

    /// <summary>A streaming replica further behind than this is logged as lagging (ReplicationStateChanged) and serves no reads (proxy.max_replica_lag).</summary>
    public long MaxReplicaLag { get; init; } = 16 * 1024 * 1024;

    /// <summary>replication.synchronous_mode and friends: which standbys the primary waits for.</summary>
    public SynchronousSettings Synchronous { get; init; } = new();

    /// <summary>A heartbeat older than this means the agent is silent.</summary>
    public TimeSpan HeartbeatFreshness { get; init; } = TimeSpan.FromSeconds(2);
}
