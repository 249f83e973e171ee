using System.Text;

namespace HA.Testing.Checking;

/// <summary>Which invariant of DESIGN §3 a history breaks.</summary>
public enum ViolationKind
{
    /// <summary>A node acknowledged a write outside its tenure as the log records it: before the node it replaced was fenced, or after it was fenced itself (§3.1).</summary>
    WriteOutsideTenure,

    /// <summary>A node acknowledged a write after another node had taken writes that followed its own (§3.1).</summary>
    FormerWriterReturned,

    /// <summary>Two nodes' writes interleave both ways (A, B, A, B): both accepted writes over one interval (§3.1).</summary>
    TwoWritersAtOnce,

    /// <summary>An acknowledged write is missing from the final primary and no allowance covers it (§3.2).</summary>
    AcknowledgedWriteLost,

    /// <summary>More acknowledged writes are missing than the async-mode allowance (§3.2).</summary>
    LossOverAllowance,

    /// <summary>The stream's versions do not follow each other by one (§3.4).</summary>
    VersionNotConsecutive,

    /// <summary>A PrimaryChanged does not carry a term higher than every earlier primary's (§3.3).</summary>
    PrimaryTermNotIncreasing,

    /// <summary>An event carries a term older than one already seen, or a failover did not take a new term (§3.3).</summary>
    TermWentBack,

    /// <summary>An append or a directive carries a fencing token older than one already used (§3.3).</summary>
    FencingTokenWentBack,

    /// <summary>A PROMOTE was issued while the node that was writing was not yet fenced (or demoted) (§3.1).</summary>
    PromoteBeforeFence,

    /// <summary>A directive was answered more than once.</summary>
    DirectiveAnsweredTwice,

    /// <summary>An answer names a directive never issued earlier in the stream, or comes from another node.</summary>
    DirectiveAnsweredUnissued,

    /// <summary>A directive id was issued twice (agents run an id once, so the second would never run).</summary>
    DirectiveIdReused,

    /// <summary>A failover started while another was still in progress (§3.3).</summary>
    OverlappingFailovers,

    /// <summary>A FailoverCompleted or FailoverFailed for a failover that is not in progress.</summary>
    FailoverEndedWithoutStart,

    /// <summary>Replaying the events does not reproduce the given final state (§3.4).</summary>
    ReplayMismatch,
}

/// <summary>One broken invariant, with the ids, nodes, versions and times that prove it.</summary>
public sealed record Violation(ViolationKind Kind, string Evidence)
{
    public override string ToString() => $"{Kind}: {Evidence}";
}

/// <summary>
/// What survived on the final primary: the ids read from its <see cref="WriteRecorder.Table"/>, and
/// how many acknowledged writes of an old primary async replication may have lost
/// (<c>maximum_lag_on_failover</c>); 0 in synchronous mode.
/// </summary>
public sealed record SurvivingWrites(string Primary, IReadOnlySet<long> Ids, int AllowedLoss = 0);

/// <summary>The outcome of <see cref="HistoryChecker.Check"/>: every violation found, the losses the allowance covers, and a summary.</summary>
public sealed record HistoryCheck(IReadOnlyList<Violation> Violations, IReadOnlyList<WriteAttempt> LostWithinBound, string Summary)
{
    public bool IsClean => Violations.Count == 0;

    public bool Has(ViolationKind kind) => Violations.Any(v => v.Kind == kind);

    /// <summary>Throws a <see cref="HistoryViolation"/> listing every violation unless the history is clean.</summary>
    public void AssertClean()
    {
        if (!IsClean) throw new HistoryViolation(this);
    }

    public override string ToString() => Summary;
}

/// <summary>A history broke an invariant of DESIGN §3; the message lists every violation with its evidence.</summary>
public sealed class HistoryViolation(HistoryCheck check) : Exception(Describe(check))
{
    public HistoryCheck Check => check;

    private static string Describe(HistoryCheck check)
    {
        var message = new StringBuilder($"the history breaks {check.Violations.Count} invariant(s):\n");
        foreach (var violation in check.Violations) message.Append("- ").Append(violation).Append('\n');
        return message.Append(check.Summary).ToString();
    }
}
