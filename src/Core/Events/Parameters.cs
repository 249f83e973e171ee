namespace HA.Core.Events;

/// <summary>
/// A node's agent applied the cluster's PostgreSQL parameters of <see cref="ParametersVersion"/> (the
/// stream version of the PostgresParametersChanged it follows): ALTER SYSTEM and a reload done; the
/// parameters its PostgreSQL still reports pending a restart are listed (empty once it runs with them all).
/// </summary>
public sealed record ParametersApplied(string Node, long ParametersVersion, IReadOnlyList<string> PendingRestart) : ClusterEvent, INodeEvent;

/// <summary>
/// An operator asked for a rolling restart: the replicas with parameters pending restart are restarted
/// one at a time, then the primary is switched over to a restarted replica (its demotion restarts it).
/// </summary>
public sealed record RollingRestartRequested(string RestartId, string Reason) : ClusterEvent;

public sealed record RollingRestartCompleted(string RestartId, IReadOnlyList<string> Restarted, TimeSpan Duration) : ClusterEvent;

public sealed record RollingRestartFailed(string RestartId, string Reason) : ClusterEvent;
