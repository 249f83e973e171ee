using HA.Core.State;

namespace HA.Core.Agent;

/// <summary>
/// What one node's agent knows at the start of a round, as <see cref="AgentPolicy.Decide"/> reads it:
/// what its probe saw, its data directory, the primary lease, the log, what it did before, and the time.
/// </summary>
public sealed record AgentFacts
{
    /// <summary>This agent's node.</summary>
    public required string Node { get; init; }

    public required DateTimeOffset Now { get; init; }

    /// <summary>What this round's probe of the local PostgreSQL saw.</summary>
    public required ServerSeen Server { get; init; }

    public required DataDirectoryState DataDirectory { get; init; }

    /// <summary>Whether this agent holds the primary lease now (its keeper renews it).</summary>
    public bool HoldsLease { get; init; }

    /// <summary>The primary lease as read from the store this round; read only when <see cref="AgentPolicy.ReadsLease"/> says so.</summary>
    public LeaseReading Lease { get; init; } = new LeaseReading.NotRead();

    /// <summary>The log as last read; null while the cluster is not bootstrapped (or the log was never read).</summary>
    public LogSeen? Log { get; init; }

    /// <summary>The log named this node at some point in this agent's run (it was a member).</summary>
    public bool WasMember { get; init; }

    /// <summary>The highest term this agent promoted its server in (the log may not say so yet).</summary>
    public long PromotedInTerm { get; init; }

    /// <summary>The highest term its server was fenced in (FENCE, DEMOTE, or by this agent).</summary>
    public long FencedInTerm { get; init; }

    /// <summary>This agent stopped its primary because it lost the primary lease, and has not restarted it since.</summary>
    public bool SelfFenced { get; init; }

    /// <summary>When this agent last started PostgreSQL or a base backup.</summary>
    public DateTimeOffset LastStartAttempt { get; init; } = DateTimeOffset.MinValue;

    /// <summary>failover.primary_restart_timeout: how long a crashed primary is restarted in place (zero: never).</summary>
    public required TimeSpan PrimaryRestartTimeout { get; init; }

    /// <summary>The agent's loop runs (false in the round before gossip starts, when a base backup must wait).</summary>
    public bool Looping { get; init; }
}

/// <summary>The local PostgreSQL as probed: running or not, a standby or not, down since when.</summary>
public sealed record ServerSeen(bool Running, bool InRecovery, DateTimeOffset? DownSince)
{
    public static ServerSeen Primary { get; } = new(true, false, null);

    public static ServerSeen Standby { get; } = new(true, true, null);

    public static ServerSeen Down(DateTimeOffset since) => new(false, false, since);

    /// <summary>It runs and is not in recovery: it takes writes.</summary>
    public bool AcceptsWrites => Running && !InRecovery;
}

/// <summary>What the node's data directory holds.</summary>
public enum DataDirectoryState
{
    /// <summary>A PostgreSQL data directory.</summary>
    Ready,

    /// <summary>No directory, or an empty one: a new member, or a node whose disk was replaced.</summary>
    Empty,

    /// <summary>The remains of a base backup that was interrupted: started again from scratch.</summary>
    BaseBackupInterrupted,

    /// <summary>Something else: never touched (<c>pgha run</c> refuses to start on one).</summary>
    Unrecognized,
}

/// <summary>The primary lease as read from the lease store.</summary>
public abstract record LeaseReading
{
    private LeaseReading() { }

    /// <summary>Not read this round (not needed).</summary>
    public sealed record NotRead : LeaseReading;

    /// <summary>Nobody holds it.</summary>
    public sealed record Free : LeaseReading;

    /// <summary>Held by <paramref name="Holder"/> (this node's name included: a grant from before this agent's hold).</summary>
    public sealed record HeldBy(string Holder) : LeaseReading;

    /// <summary>The store did not answer.</summary>
    public sealed record StoreUnavailable(string Error) : LeaseReading;
}

/// <summary>The log's state as far as one agent's decisions go.</summary>
public sealed record LogSeen
{
    /// <summary>The primary the log names (null: none, during a failover for instance).</summary>
    public string? Primary { get; init; }

    /// <summary>The term in which that primary was named.</summary>
    public long PrimaryTerm { get; init; }

    /// <summary>The highest term any event carried.</summary>
    public long Term { get; init; }

    public bool FailoverRunning { get; init; }

    /// <summary>Every member the log names, this node included when it is one.</summary>
    public IReadOnlyList<string> Members { get; init; } = [];

    /// <summary>This node as the log describes it; null when the log does not name it.</summary>
    public MemberSeen? Me { get; init; }

    /// <summary>What <paramref name="state"/> says that one agent's decisions read.</summary>
    public static LogSeen Of(ClusterState state, string node) => new()
    {
        Primary = state.Primary,
        PrimaryTerm = state.PrimaryTerm,
        Term = state.Term,
        FailoverRunning = state.Failover is not null,
        Members = [.. state.Nodes.Keys],
        Me = state.Nodes.TryGetValue(node, out var me) ? new MemberSeen(me.Role, me.Fenced, me.Detached, me.DetachedReason) : null,
    };
}

/// <summary>This node as the log describes it.</summary>
public sealed record MemberSeen(NodeRole Role, bool Fenced = false, bool Detached = false, string? DetachedReason = null);
