namespace HA.Core.Events;

/// <summary>What the coordinator can tell an agent to do to its own PostgreSQL.</summary>
public enum DirectiveKind
{
    Fence,
    Promote,
    Demote,
    Rewind,
    Reinitialize,
    Repoint,
    Checkpoint,
    ApplyConfig,

    /// <summary>Restart a standby (fast stop, start) so that parameters pending restart take effect.</summary>
    Restart,
}

/// <summary>The coordinator sent a directive to one node's agent (term and fencing token let the agent refuse a stale one).</summary>
public sealed record DirectiveIssued(
    string DirectiveId,
    string Node,
    DirectiveKind Kind,
    long Term,
    long FencingToken,
    DateTimeOffset ExpiresAt,
    IReadOnlyDictionary<string, string> Arguments) : ClusterEvent, INodeEvent, ITermEvent;

public sealed record DirectiveSucceeded(string DirectiveId, string Node, TimeSpan Duration, string Detail) : ClusterEvent, INodeEvent;

public sealed record DirectiveFailed(string DirectiveId, string Node, TimeSpan Duration, string Error) : ClusterEvent, INodeEvent;

/// <summary>
/// A directive got no answer before it expired. The coordinator either issues it again
/// (<see cref="Retrying"/>, as a new directive) or abandons it; either way it is no longer pending.
/// </summary>
public sealed record DirectiveExpired(string DirectiveId, string Node, DirectiveKind Kind, int Attempt, bool Retrying, string Reason) : ClusterEvent, INodeEvent;
