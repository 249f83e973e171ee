namespace HA.Core.Events;

public enum NodeHealth
{
    Unknown,
    Healthy,
    Unhealthy,
    Unreachable,
}

public enum ReplicationStatus
{
    Unknown,
    Streaming,
    CatchingUp,
    Stopped,
}

/// <summary>A node's health changed, as judged by the observers named in <see cref="ObservedBy"/>.</summary>
public sealed record NodeHealthChanged(string Node, NodeHealth Health, string Reason, IReadOnlyList<string> ObservedBy) : ClusterEvent, INodeEvent;

/// <summary>
/// A replica's replication changed in a way that matters: streaming started or stopped, its sync
/// state changed, or its lag crossed a threshold (not every lag sample).
/// </summary>
public sealed record ReplicationStateChanged(
    string Node,
    ReplicationStatus Status,
    string SyncState,
    long LagBytes,
    string? Upstream,
    string Reason) : ClusterEvent, INodeEvent;
