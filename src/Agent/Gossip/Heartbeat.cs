namespace HA.Agent.Gossip;

/// <summary>What one agent sees of one peer's PostgreSQL (a TCP probe of its port).</summary>
public sealed record PeerObservation(string Peer, bool Reachable, DateTimeOffset? UnreachableSince, string Detail);

/// <summary>One agent's heartbeat: its PostgreSQL's role, health and positions, and what it sees of its peers.</summary>
public sealed record Heartbeat
{
    public required string Cluster { get; init; }
    public required string Node { get; init; }

    /// <summary>Set by <see cref="GossipNode"/>: when the sending node started (unix ms); a restarted agent has a larger one.</summary>
    public required long Incarnation { get; init; }

    /// <summary>Set by <see cref="GossipNode"/>: increases by 1 per heartbeat sent within one incarnation, from 1.</summary>
    public required long Sequence { get; init; }

    public required DateTimeOffset SentAt { get; init; }
    public bool PostgresRunning { get; init; }
    public DateTimeOffset? PostgresDownSince { get; init; }
    public bool InRecovery { get; init; }
    public int? Timeline { get; init; }
    public string? CurrentLsn { get; init; }
    public string? ReceivedLsn { get; init; }
    public string? ReplayedLsn { get; init; }
    public long? LagBytes { get; init; }
    public string? Upstream { get; init; }

    /// <summary>Free text, e.g. why PostgreSQL is down or what the agent is doing.</summary>
    public string? Detail { get; init; }

    /// <summary>The cluster-state version this agent last read.</summary>
    public long StateVersion { get; init; }

    public IReadOnlyList<PeerObservation> Peers { get; init; } = [];
}

/// <summary>A heartbeat as received, with when it arrived on this machine (wall clock and <see cref="TimeProvider.GetTimestamp"/>).</summary>
public sealed record ReceivedHeartbeat(Heartbeat Heartbeat, DateTimeOffset ReceivedAt, long ReceivedTimestamp);
