namespace HA.Core.Agent;

/// <summary>
/// What an agent does in one round, as <see cref="AgentPolicy.Decide"/> chose it: one record per action,
/// its typed fields for the executor, and <see cref="Reason"/>, the sentence for the agent's log line
/// (and the heartbeat's detail where the action publishes one). Nothing downstream parses the sentence.
/// </summary>
public abstract record AgentAction
{
    private AgentAction() { }

    /// <summary>What the agent does and why, in one sentence.</summary>
    public abstract string Reason { get; }

    /// <summary>Nothing to do this round.</summary>
    public sealed record Nothing(string Why) : AgentAction
    {
        public override string Reason => Why;
    }

    /// <summary>The log exists and does not name this node: it joins (never a member in this run) or was removed.</summary>
    public sealed record NotAMember(bool WasMember) : AgentAction
    {
        public override string Reason => WasMember ? "the log no longer names this node: it was removed" : "the log does not name this node: it joins";
    }

    /// <summary>No log yet: bring up what this node has, the coordinator records it when it bootstraps.</summary>
    public sealed record StartBeforeBootstrap : AgentAction
    {
        public override string Reason => "starting PostgreSQL before the cluster is bootstrapped";
    }

    /// <summary>Take the free primary lease (and keep it until released or lost).</summary>
    public sealed record TakeLease(string Why) : AgentAction
    {
        public override string Reason => Why;
    }

    /// <summary>
    /// The server takes writes while the log names another primary (a primary that came back): stop it,
    /// remember the fence in <paramref name="Term"/>, then give up the primary lease if held.
    /// </summary>
    public sealed record FenceBecauseLogNamesAnotherPrimary(string? Primary, long PrimaryTerm, long Term) : AgentAction
    {
        public override string Reason => $"PostgreSQL accepts writes but {Primary} is the primary of term {PrimaryTerm}";
    }

    /// <summary>The server takes writes while another node holds the primary lease: stop it at once.</summary>
    public sealed record FenceBecauseLeaseHeldElsewhere(string Holder, long Term) : AgentAction
    {
        public override string Reason => $"the primary lease is held by {Holder}";
    }

    /// <summary>The primary keeps a replication slot for every other member and drops those of nodes that left.</summary>
    public sealed record KeepSlots(long PrimaryTerm, IReadOnlyList<string> Members) : AgentAction
    {
        public override string Reason => $"the primary of term {PrimaryTerm} keeps a replication slot for every other member";
    }

    /// <summary>Give the primary lease up at once.</summary>
    public sealed record ReleaseLease(string Why) : AgentAction
    {
        public override string Reason => Why;
    }

    /// <summary>A detached node's PostgreSQL is down and left as it is (published as the heartbeat's detail).</summary>
    public sealed record LeaveDetached(string? DetachedReason) : AgentAction
    {
        public override string Reason => $"detached for maintenance ({DetachedReason}): PostgreSQL left as it is";
    }

    /// <summary>A former primary waits for the coordinator to rewind it; it holds no primary lease (published).</summary>
    public sealed record WaitForRejoin(string? Primary) : AgentAction
    {
        public override string Reason => $"former primary: waiting to be rejoined to {Primary} (rewind)";
    }

    /// <summary>A replica without data takes a base backup a little later (published).</summary>
    public sealed record WaitForBaseBackup(string? From) : AgentAction
    {
        public override string Reason => $"no data directory yet: a base backup from {From ?? "the primary"} follows";
    }

    /// <summary>A replica without data has no primary to take a base backup from (published).</summary>
    public sealed record WaitForAPrimary : AgentAction
    {
        public override string Reason => "no data directory yet: waiting for a primary to take a base backup from";
    }

    /// <summary>A replica without data (or with an interrupted base backup) takes one from the primary, then streams from it.</summary>
    public sealed record CloneFromPrimary(string Primary) : AgentAction
    {
        public override string Reason => $"no data directory: taking a base backup from the primary {Primary}";
    }

    /// <summary>A replica's server is down: start it again where it is.</summary>
    public sealed record StartStandby : AgentAction
    {
        public override string Reason => "restarting the standby in place";
    }

    /// <summary>
    /// The primary's server is down and nobody is taking over: start it again where it is, taking the
    /// primary lease first when <paramref name="TakeLeaseFirst"/> (not started unless the lease is held).
    /// </summary>
    public sealed record RestartPrimaryInPlace(PrimaryRestart Why, bool TakeLeaseFirst, TimeSpan PrimaryRestartTimeout) : AgentAction
    {
        public override string Reason => Why switch
        {
            PrimaryRestart.LeaseHeldAgain => "restarting the primary: its lease is held again",
            PrimaryRestart.OnlyMember => "restarting the primary in place: it is the only member, no other node could take over",
            _ => $"restarting the primary in place (primary_restart_timeout {PrimaryRestartTimeout.TotalSeconds:0.#} s)",
        };
    }

    /// <summary>
    /// The primary's server is down and is not restarted: give the primary lease up (if held) so another
    /// node can take over, and publish that the coordinator decides now.
    /// </summary>
    public sealed record WaitForFailover(PrimaryNotRestarted Why, TimeSpan PrimaryRestartTimeout) : AgentAction
    {
        /// <summary>What the heartbeat says meanwhile.</summary>
        public const string Detail = "primary PostgreSQL is down; waiting for the coordinator";

        public override string Reason => Why switch
        {
            PrimaryNotRestarted.FencedByCoordinator => "fenced by the coordinator",
            PrimaryNotRestarted.FailoverRunning => "a failover is running",
            _ => $"primary_restart_timeout {PrimaryRestartTimeout.TotalSeconds:0.#} s passed",
        };
    }
}

/// <summary>Why a crashed primary is restarted in place.</summary>
public enum PrimaryRestart
{
    /// <summary>It went down less than primary_restart_timeout ago.</summary>
    WithinRestartTimeout,

    /// <summary>It fenced itself when it lost the primary lease, and the lease is (to be) held again.</summary>
    LeaseHeldAgain,

    /// <summary>It is the cluster's only member: no other node could take over.</summary>
    OnlyMember,
}

/// <summary>Why a crashed primary is not restarted in place.</summary>
public enum PrimaryNotRestarted
{
    /// <summary>The coordinator fenced it (FENCE or DEMOTE in its term, or the log says fenced).</summary>
    FencedByCoordinator,

    /// <summary>A failover is under way.</summary>
    FailoverRunning,

    /// <summary>It has been down for primary_restart_timeout or longer.</summary>
    RestartTimeoutPassed,
}
