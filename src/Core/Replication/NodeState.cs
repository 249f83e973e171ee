namespace HA.Core.Replication;

/// <summary>One row of the primary's pg_stat_replication: a standby connected to it.</summary>
public sealed record ReplicationConnection(
    string ApplicationName,
    string? ClientAddress,
    string State,
    Lsn? SentLsn,
    Lsn? FlushLsn,
    Lsn? ReplayLsn,
    string SyncState,
    long? LagBytes)
{
    public bool IsStreaming => State == "streaming";
}

/// <summary>What a PostgreSQL instance says about itself over SQL at one moment.</summary>
public sealed record NodeState(
    bool InRecovery,
    int Timeline,
    Lsn? CurrentLsn,
    Lsn? ReceivedLsn,
    Lsn? ReplayedLsn,
    string? WalReceiverStatus,
    string? UpstreamHost,
    int? UpstreamPort,
    IReadOnlyList<ReplicationConnection> Replication)
{
    public bool IsPrimary => !InRecovery;

    /// <summary>True for a standby whose WAL receiver is streaming from its upstream.</summary>
    public bool IsStreamingReplica => InRecovery && WalReceiverStatus == "streaming";

    /// <summary>The furthest WAL position this node has: written on a primary, received or replayed on a standby.</summary>
    public Lsn Position => CurrentLsn ?? Max(ReceivedLsn, ReplayedLsn);

    /// <summary>Bytes this standby's replay is behind <paramref name="primaryPosition"/>.</summary>
    public long ReplayLagBytes(Lsn primaryPosition) => Lsn.BytesBehind(primaryPosition, ReplayedLsn ?? Lsn.Zero);

    private static Lsn Max(Lsn? a, Lsn? b) => (a ?? Lsn.Zero) >= (b ?? Lsn.Zero) ? a ?? Lsn.Zero : b ?? Lsn.Zero;
}
