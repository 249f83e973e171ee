using HA.Core.Events;
using HA.Core.Replication;

namespace HA.Core.Coordinator;

/// <summary>What one agent sees of one peer's PostgreSQL, as its heartbeat says.</summary>
public sealed record PeerReport(string Peer, bool Reachable, DateTimeOffset? UnreachableSince, string Detail);

/// <summary>One member's last heartbeat as the coordinator received it (gossip), with when it arrived.</summary>
public sealed record HeartbeatReport(string Node, DateTimeOffset ReceivedAt)
{
    public bool PostgresRunning { get; init; }

    /// <summary>Since when its agent has seen PostgreSQL down (null: running, or not known).</summary>
    public DateTimeOffset? PostgresDownSince { get; init; }
    public bool InRecovery { get; init; }
    public int? Timeline { get; init; }
    public Lsn? CurrentLsn { get; init; }
    public Lsn? ReceivedLsn { get; init; }
    public Lsn? ReplayedLsn { get; init; }

    /// <summary>The node a standby streams from (null: none).</summary>
    public string? Upstream { get; init; }

    /// <summary>Its agent's own words (why PostgreSQL is down, …): shown, never decided on.</summary>
    public string? Detail { get; init; }
    public IReadOnlyList<PeerReport> Peers { get; init; } = [];
}

/// <summary>The primary's last WAL position the coordinator recorded in the witness store (a document, not an event), as read.</summary>
public sealed record RecordedPrimaryPosition(string Node, Lsn Lsn);

/// <summary>
/// Everything the coordinator knows this round besides the log: who it is (its lease's token), the
/// configured members (for bootstrap), the members' heartbeats, the primary lease as read, the primary's
/// last recorded position, the time, its settings, and where new ids come from.
/// </summary>
/// <param name="Members">the members the configuration lists: a cluster with no history is bootstrapped with them</param>
/// <param name="PrimaryLeaseHolder">who holds the primary lease, as read this round (null: nobody)</param>
/// <param name="NewId">ids for new operations and directives (injected, so the policy stays a function)</param>
public sealed record CoordinatorEvidence(
    string Cluster,
    string Node,
    long Token,
    IReadOnlyList<NodeSpec> Members,
    IReadOnlyDictionary<string, HeartbeatReport> Heartbeats,
    string? PrimaryLeaseHolder,
    RecordedPrimaryPosition? PrimaryPosition,
    DateTimeOffset Now,
    CoordinatorSettings Settings,
    Func<string> NewId)
{
    /// <summary>The heartbeat of <paramref name="node"/> when it is fresh (received within HeartbeatFreshness), else null: its agent is silent.</summary>
    public HeartbeatReport? Fresh(string node) =>
        Heartbeats.TryGetValue(node, out var beat) && Now - beat.ReceivedAt <= Settings.HeartbeatFreshness ? beat : null;
}
