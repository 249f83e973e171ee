namespace HA.Core.Events;

/// <summary>A node's agent won the coordinator lease; <see cref="FencingToken"/> is that lease's token.</summary>
public sealed record CoordinatorElected(string Node, long FencingToken) : ClusterEvent, INodeEvent;

/// <summary>Automatic failover is frozen until resumed; survives restarts and coordinator changes.</summary>
public sealed record FailoverPaused(string Reason) : ClusterEvent;

public sealed record FailoverResumed(string Reason) : ClusterEvent;

/// <summary>
/// Cluster-wide PostgreSQL parameters set (value) or reset (null) by an operator; <see cref="PendingRestart"/>
/// names the changed ones that take effect only at a restart (context postmaster). Its stream version is
/// the parameters' version, which each node's agent reports applying (<see cref="ParametersApplied"/>).
/// </summary>
public sealed record PostgresParametersChanged(
    IReadOnlyDictionary<string, string?> Changes,
    IReadOnlyList<string> PendingRestart,
    string? Reason = null) : ClusterEvent;

public enum SynchronousMode
{
    Off,
    On,
    Quorum,
}

/// <summary>The coordinator changed synchronous_standby_names.</summary>
public sealed record SynchronousStandbysChanged(SynchronousMode Mode, int NodeCount, IReadOnlyList<string> Standbys) : ClusterEvent;

/// <summary>
/// The primary's agent set synchronous_standby_names to <see cref="Value"/>; every commit acknowledged
/// after <see cref="Lsn"/> waited for the standbys it names. A standby that has received WAL up to
/// <see cref="Lsn"/> has every commit acknowledged before the change too.
/// </summary>
public sealed record SynchronousStandbysApplied(string Node, string Value, string Lsn) : ClusterEvent, INodeEvent;
