namespace HA.Core.Events;

/// <summary>How one node fared as a failover candidate; <see cref="RejectedBecause"/> is null for eligible nodes.</summary>
public sealed record CandidateAssessment(
    string Node,
    string? ReceivedLsn,
    long? LagBytes,
    int FailoverPriority,
    string? RejectedBecause);

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
    IReadOnlyList<Observation> Observations) : ClusterEvent, ITermEvent;

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
