namespace HA.Core.Events;

/// <summary>Why a node was not chosen as the failover candidate: what decisions read (the human sentence is <see cref="CandidateAssessment.RejectedBecause"/>).</summary>
public enum CandidateRejection
{
    /// <summary>It is the primary being replaced.</summary>
    OldPrimary,
    Detached,
    NoFailover,
    /// <summary>Its role in the log is not replica (a former primary that has not rejoined, …).</summary>
    NotReplica,
    NoReport,
    StaleReport,
    Unhealthy,
    /// <summary>Its PostgreSQL is not in recovery: not a standby.</summary>
    NotInRecovery,
    /// <summary>Synchronous mode, and no standby is recorded as having every acknowledged commit.</summary>
    NoSynchronousStandby,
    /// <summary>Synchronous mode, and it is not one of the recorded synchronous standbys.</summary>
    NotSynchronous,
    /// <summary>Quorum mode, and too few of the synchronous standbys are in view to be sure to find every acknowledged commit.</summary>
    TooFewSynchronousStandbys,
    NoReceivedLsn,
    /// <summary>Further behind the primary's last known position than maximum_lag_on_failover.</summary>
    LagOverMaximum,
    /// <summary>Its received LSN is behind the chosen candidate's.</summary>
    BehindCandidate,
    /// <summary>Same received LSN as the chosen candidate, lower failover_priority.</summary>
    LowerPriority,
    /// <summary>Same received LSN and failover_priority as the chosen candidate, which comes first by name.</summary>
    LaterByName,
    /// <summary>An operator's manual failover named another node.</summary>
    OperatorChoseAnother,
}

/// <summary>
/// How one node fared as a failover candidate; <see cref="RejectedBecause"/> (the sentence) and
/// <see cref="Rejection"/> (what it means) are null for eligible nodes.
/// </summary>
public sealed record CandidateAssessment(
    string Node,
    string? ReceivedLsn,
    long? LagBytes,
    int FailoverPriority,
    string? RejectedBecause)
{
    /// <summary>Null for the chosen node, and in events recorded before it existed.</summary>
    public CandidateRejection? Rejection { get; init; }
}

/// <summary>Which of DESIGN §5's detection rules found the primary lost (the human sentence is the trigger beside it).</summary>
public enum FailureTrigger
{
    /// <summary>The log names no primary (or one that is no longer a member).</summary>
    NoPrimary,
    /// <summary>Its own agent reports PostgreSQL down and restarting it did not succeed within primary_restart_timeout.</summary>
    PostgresDown,
    /// <summary>Its primary lease expired or was released.</summary>
    LeaseExpired,
    /// <summary>Another node holds the primary lease.</summary>
    LeaseHeldElsewhere,
    /// <summary>A majority of observers could not reach it for failure_timeout.</summary>
    Unreachable,
    /// <summary>An operator asked for a failover to a named node.</summary>
    Manual,
}

/// <summary>What one observer saw of the old primary when the failover was decided.</summary>
public sealed record Observation(string Observer, string Target, bool Reachable, string Detail);

/// <summary>
/// The coordinator decided the primary is lost. Carries every candidate considered with the reason
/// each was rejected, the chosen one, and the observations behind the decision.
/// </summary>
public sealed record FailoverStarted(
    string FailoverId,
    long Term,
    string Trigger,
    string? OldPrimary,
    string? Candidate,
    IReadOnlyList<CandidateAssessment> Candidates,
    IReadOnlyList<Observation> Observations) : ClusterEvent, ITermEvent
{
    /// <summary>Which rule <see cref="Trigger"/> describes; null in events recorded before it existed.</summary>
    public FailureTrigger? TriggerKind { get; init; }

    /// <summary>
    /// The primary's last known WAL position the candidates were judged against (lag, maximum_lag_on_failover):
    /// recorded so a successor resuming the failover needs nothing a dead coordinator only remembered.
    /// Null when none was known, and in events recorded before it existed.
    /// </summary>
    public string? ReferenceLsn { get; init; }
}

public sealed record FailoverCompleted(string FailoverId, long Term, string NewPrimary, TimeSpan Duration) : ClusterEvent, ITermEvent;

public sealed record FailoverFailed(string FailoverId, long Term, string Reason, TimeSpan Duration) : ClusterEvent, ITermEvent;

/// <summary>The old primary can no longer accept writes: its agent acknowledged FENCE, it fenced itself, or its lease expired.</summary>
public sealed record NodeFenced(string Node, long Term, string How, TimeSpan? Margin) : ClusterEvent, INodeEvent, ITermEvent;

/// <summary>Routing flips here: <see cref="Node"/> is the primary of <see cref="Term"/>.</summary>
public sealed record PrimaryChanged(long Term, string Node, string? Previous, int Timeline, string Lsn) : ClusterEvent, INodeEvent, ITermEvent;

/// <summary>A former primary came back as a replica, by pg_rewind or a new base backup.</summary>
public sealed record NodeRejoined(string Node, string Method, int Timeline, TimeSpan Duration) : ClusterEvent, INodeEvent;

public sealed record SwitchoverRequested(string SwitchoverId, string From, string To, DateTimeOffset? At) : ClusterEvent;

public sealed record SwitchoverCompleted(string SwitchoverId, string From, string To, TimeSpan Duration, TimeSpan? WritePause) : ClusterEvent;

public sealed record SwitchoverFailed(string SwitchoverId, string Reason) : ClusterEvent;

/// <summary>
/// An operator asked for a failover to <see cref="To"/> (the primary is gone, or must go): with
/// <see cref="AllowDataLoss"/> even when <see cref="To"/> is behind; with <see cref="Force"/> even while paused.
/// </summary>
public sealed record FailoverRequested(string RequestId, string To, bool AllowDataLoss, bool Force) : ClusterEvent, INodeEvent
{
    public string Node => To;
}
