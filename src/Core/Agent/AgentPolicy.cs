using HA.Core.State;

namespace HA.Core.Agent;

/// <summary>
/// The agent's local decisions (DESIGN §2, §3.1), pure: from what one round observed to the one thing
/// the agent does. A server that takes writes while the log names another primary, or while another
/// node holds the primary lease, is fenced; a crashed primary is restarted in place only while nobody is
/// taking over; a replica is restarted, or given a base backup; the primary lease is held only by a
/// primary. No I/O, no clock: the time is <see cref="AgentFacts.Now"/>.
/// </summary>
public static class AgentPolicy
{
    /// <summary>How long after an attempt a replica's server, a base backup, or a server before bootstrap is started again.</summary>
    public static readonly TimeSpan ReplicaRestartEvery = TimeSpan.FromSeconds(3);

    /// <summary>How long after an attempt a crashed primary is started again.</summary>
    public static readonly TimeSpan PrimaryRestartEvery = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether the round must read the primary lease before deciding: the server takes writes without
    /// holding it, and the log does not already say to fence it (that fence waits for no lease store).
    /// </summary>
    public static bool ReadsLease(AgentFacts facts) => facts.Server.AcceptsWrites && !facts.HoldsLease && facts.Log switch
    {
        null => true,
        { Me: null } => false,
        var log => !LogNamesAnotherPrimary(facts, log),
    };

    /// <summary>The one thing the agent does this round, given what it observed.</summary>
    public static AgentAction Decide(AgentFacts facts) => facts.Log switch
    {
        null => BeforeBootstrap(facts),
        { Me: null } => new AgentAction.NotAMember(facts.WasMember),
        { Me: not null } log when facts.Server.AcceptsWrites => TakingWrites(facts, log),
        var log when facts.Server.Running => facts.HoldsLease && log.Primary != facts.Node
            ? new AgentAction.ReleaseLease("a running standby holds no primary lease")
            : new AgentAction.Nothing("PostgreSQL runs as a standby"),
        { Me: { } me } log => Down(facts, log, me),
    };

    private static AgentAction BeforeBootstrap(AgentFacts facts)
    {
        if (!facts.Server.Running && facts.DataDirectory == DataDirectoryState.Ready && facts.Now - facts.LastStartAttempt > ReplicaRestartEvery)
            return new AgentAction.StartBeforeBootstrap();
        if (facts.Server.AcceptsWrites && !facts.HoldsLease && facts.Lease is LeaseReading.Free)
            return new AgentAction.TakeLease("PostgreSQL takes writes before the cluster is bootstrapped: the primary holds the primary lease");
        return new AgentAction.Nothing("the cluster is not bootstrapped yet");
    }

    /// <summary>The server runs and takes writes: it may only while the log names it (or it was just promoted) and it holds the lease.</summary>
    private static AgentAction TakingWrites(AgentFacts facts, LogSeen log)
    {
        if (LogNamesAnotherPrimary(facts, log))
            return new AgentAction.FenceBecauseLogNamesAnotherPrimary(log.Primary, log.PrimaryTerm, log.Term);
        if (!facts.HoldsLease)
        {
            return facts.Lease switch
            {
                LeaseReading.Free => new AgentAction.TakeLease("PostgreSQL takes writes and the primary lease is free"),
                LeaseReading.HeldBy(var holder) when holder != facts.Node => new AgentAction.FenceBecauseLeaseHeldElsewhere(holder, log.Term),
                LeaseReading.HeldBy => new AgentAction.Nothing("the lease store still names this node from an earlier grant: the lease is taken again once it expires"),
                LeaseReading.StoreUnavailable(var error) => new AgentAction.Nothing($"cannot read the primary lease: {error}"),
                _ => new AgentAction.Nothing("the primary lease was not read"),
            };
        }
        return log.Primary == facts.Node
            ? new AgentAction.KeepSlots(log.PrimaryTerm, log.Members)
            : new AgentAction.Nothing($"promoted in term {facts.PromotedInTerm}; the log does not name this node the primary yet");
    }

    /// <summary>The log names another primary, and this node was not promoted after it (a node promoted in a newer term is the new primary the log has not recorded yet).</summary>
    private static bool LogNamesAnotherPrimary(AgentFacts facts, LogSeen log) => log.Primary != facts.Node && facts.PromotedInTerm <= log.PrimaryTerm;

    /// <summary>PostgreSQL is down.</summary>
    private static AgentAction Down(AgentFacts facts, LogSeen log, MemberSeen me)
    {
        if (me.Detached) return new AgentAction.LeaveDetached(me.DetachedReason);
        if (me.Role == NodeRole.FormerPrimary) return new AgentAction.WaitForRejoin(log.Primary);
        var now = facts.Now;
        if (log.Primary != facts.Node)
        {
            if (facts.DataDirectory is DataDirectoryState.Empty or DataDirectoryState.BaseBackupInterrupted)
            {
                // Not in the round before gossip starts: the peers hear this node (taking a base backup) meanwhile.
                if (!facts.Looping || now - facts.LastStartAttempt <= ReplicaRestartEvery) return new AgentAction.WaitForBaseBackup(log.Primary);
                return log.Primary is { } primary ? new AgentAction.CloneFromPrimary(primary) : new AgentAction.WaitForAPrimary();
            }
            if (facts.DataDirectory != DataDirectoryState.Ready)
                return new AgentAction.Nothing("the data directory holds something other than PostgreSQL's: left alone");
            return now - facts.LastStartAttempt > ReplicaRestartEvery
                ? new AgentAction.StartStandby()
                : new AgentAction.Nothing("the standby was started less than a few seconds ago");
        }

        // The primary: restarted in place only while nobody is taking over — not fenced by the coordinator,
        // no failover running, and holding the lease — within primary_restart_timeout of the crash, after a
        // self-fence once the lease is held again, or when no other node could take over.
        if (me.Fenced || facts.FencedInTerm >= log.PrimaryTerm)
            return new AgentAction.WaitForFailover(PrimaryNotRestarted.FencedByCoordinator, facts.PrimaryRestartTimeout);
        if (log.FailoverRunning)
            return new AgentAction.WaitForFailover(PrimaryNotRestarted.FailoverRunning, facts.PrimaryRestartTimeout);
        PrimaryRestart? why = facts.SelfFenced ? PrimaryRestart.LeaseHeldAgain
            : facts.Server.DownSince is { } since && now - since < facts.PrimaryRestartTimeout ? PrimaryRestart.WithinRestartTimeout
            : log.Members.Count == 1 ? PrimaryRestart.OnlyMember
            : null;
        if (why is not { } restart)
            return new AgentAction.WaitForFailover(PrimaryNotRestarted.RestartTimeoutPassed, facts.PrimaryRestartTimeout);
        if (now - facts.LastStartAttempt > PrimaryRestartEvery)
            return new AgentAction.RestartPrimaryInPlace(restart, TakeLeaseFirst: !facts.HoldsLease, facts.PrimaryRestartTimeout);
        return facts.HoldsLease
            ? new AgentAction.Nothing("the primary was started less than a second ago")
            : new AgentAction.TakeLease("the primary is restarted in place: it holds the primary lease first");
    }
}
