using System.Text;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;

namespace HA.Testing.Checking;

/// <summary>
/// Checks a recorded history against the invariants of DESIGN §3: never two writers, no acknowledged
/// write lost, and the event log's own rules. Pure: it only reads what it is given.
/// </summary>
/// <remarks>
/// <para>What a write history can prove. Every time of a <see cref="WriteAttempt"/> comes from one
/// monotonic clock, and a write committed, if at all, between its <see cref="WriteAttempt.SentAt"/>
/// and its <see cref="WriteAttempt.AckedAt"/>. So when <c>a.AckedAt &lt; b.SentAt</c>, a certainly
/// committed before b did, whatever node each went to; when their windows overlap, the order is unknown
/// and the checker assumes nothing.</para>
/// <para>The checker reports only orders it is certain of; it never guesses. It does not see a node
/// that accepted writes no recorder attempt reached (a primary partitioned from the test client), nor
/// a second writer whose acknowledged writes all overlap the other's in time, nor the instants between
/// two attempts (it samples every <c>every</c>). A clean history is evidence, not proof, of one writer.</para>
/// </remarks>
public static class HistoryChecker
{
    private const int ListedIds = 10;

    /// <summary>Runs every check that its inputs allow and summarizes the history.</summary>
    /// <param name="attempts">what a <see cref="WriteRecorder"/> recorded.</param>
    /// <param name="surviving">the ids read from the final primary; null skips the loss check.</param>
    /// <param name="events">the cluster's event stream in stream order; null skips the log checks.</param>
    /// <param name="finalState">a state the whole stream must replay to (Primary, PrimaryTerm, Version); needs <paramref name="events"/> from version 1.</param>
    public static HistoryCheck Check(
        IReadOnlyList<WriteAttempt> attempts,
        SurvivingWrites? surviving = null,
        IReadOnlyList<RecordedEvent>? events = null,
        ClusterState? finalState = null)
    {
        // With several failovers the writer role legitimately returns to earlier nodes: the log's tenures decide.
        var failovers = events?.Count(e => e.Event is PrimaryChanged) ?? 0;
        var tenures = failovers > 0 ? Tenures(events!) : null;
        var violations = failovers > 1 ? [] : OneWriter(attempts).ToList();
        if (tenures is not null) violations.AddRange(WritesWithinTenures(attempts, tenures));
        IReadOnlyList<WriteAttempt> lostWithinBound = [];
        if (surviving is not null)
        {
            var (lost, withinBound) = failovers > 1 ? AcknowledgedWritesKeptAcrossTenures(attempts, surviving, tenures!) : AcknowledgedWritesKept(attempts, surviving);
            violations.AddRange(lost);
            lostWithinBound = withinBound;
        }
        if (events is not null) violations.AddRange(EventLog(events, finalState));
        else if (finalState is not null) throw new ArgumentException("a final state can only be checked against events", nameof(finalState));
        return new HistoryCheck(violations, lostWithinBound, Summarize(attempts, surviving, lostWithinBound, events, violations));
    }

    /// <summary>
    /// Never two writers (§3.1), over acknowledged writes only.
    /// <para><see cref="ViolationKind.FormerWriterReturned"/>: writes a on node A, b on node B ≠ A and c on
    /// A, each acknowledged before the next was sent. Proven: A committed, then B, then A again. That
    /// breaks "one writer" unless the writer role legitimately went back to A between b and c (a
    /// switch-back): check a history with a planned return in segments, split at the return.</para>
    /// <para><see cref="ViolationKind.TwoWritersAtOnce"/>: additionally a write d on B acknowledged after
    /// c was, sent after c was acknowledged (A, B, A, B). Proven: A's commits span b's and B's commits
    /// span c's, so both accepted writes throughout [b.AckedAt, c.SentAt] unless roles changed twice
    /// within it.</para>
    /// Every such pattern is found (each node's first acknowledged write and the earliest-acknowledged
    /// handover are the witnesses), and one violation is reported per pair of nodes with every
    /// offending id.
    /// </summary>
    public static IReadOnlyList<Violation> OneWriter(IReadOnlyList<WriteAttempt> attempts)
    {
        var acked = attempts.Where(a => a.Acknowledged)
            .GroupBy(a => a.Node, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(a => a.AckedAt).ToList(), StringComparer.Ordinal);
        var nodes = acked.Keys.Order(StringComparer.Ordinal).ToList();
        var violations = new List<Violation>();
        var interleaved = new HashSet<(string, string)>();
        foreach (var a in nodes)
        {
            foreach (var b in nodes.Where(n => n != a))
            {
                var first = acked[a][0];
                var handover = acked[b].Where(w => w.SentAt > first.AckedAt).MinBy(w => w.AckedAt);
                if (handover is null) continue;
                var returned = acked[a].Where(w => w.SentAt > handover.AckedAt).ToList();
                if (returned.Count == 0) continue;
                var back = returned[0];
                violations.Add(new Violation(ViolationKind.FormerWriterReturned,
                    $"{a} acknowledged {returned.Count} write(s) after {b} had taken over: {a} acked id {first.Id} at {At(first.AckedAt)}; " +
                    $"then {b} acked id {handover.Id} (sent {At(handover.SentAt)}, acked {At(handover.AckedAt)}); " +
                    $"then {a} acked ids {Ids(returned)} (the first sent {At(back.SentAt)}, acked {At(back.AckedAt)}; the last acked {At(returned[^1].AckedAt)})"));

                var again = acked[b].Where(w => w.SentAt > back.AckedAt).MinBy(w => w.AckedAt);
                if (again is null || !interleaved.Add(Pair(a, b))) continue;
                violations.Add(new Violation(ViolationKind.TwoWritersAtOnce,
                    $"{a} and {b} both accepted writes from {At(handover.AckedAt)} to {At(back.SentAt)}: commits certainly in the order " +
                    $"{a} id {first.Id} (acked {At(first.AckedAt)}), {b} id {handover.Id} (sent {At(handover.SentAt)}, acked {At(handover.AckedAt)}), " +
                    $"{a} id {back.Id} (sent {At(back.SentAt)}, acked {At(back.AckedAt)}), {b} id {again.Id} (sent {At(again.SentAt)}, acked {At(again.AckedAt)})"));
            }
        }
        return violations;
    }

    /// <summary>One node's time as the writer, as the log records it: from the fencing of the node it replaced (or the start) to its own fencing (or the end).</summary>
    public sealed record Tenure(string Node, DateTimeOffset Start, DateTimeOffset End, long Term);

    /// <summary>
    /// The writers' tenures from the log: the bootstrapped primary from the start; at each failover the old
    /// primary's tenure ends when NodeFenced records it (the FENCE acknowledged or its lease gone), at a
    /// switchover when its DEMOTE is answered, and the promoted node's begins there — it cannot have been
    /// promoted earlier (§3.1).
    /// </summary>
    public static IReadOnlyList<Tenure> Tenures(IReadOnlyList<RecordedEvent> events)
    {
        var tenures = new List<Tenure>();
        string? current = events.Select(e => e.Event).OfType<ClusterBootstrapped>().FirstOrDefault()?.Primary;
        var start = DateTimeOffset.MinValue;
        long term = 1;
        long since = 0;
        foreach (var changed in events.Where(e => e.Event is PrimaryChanged))
        {
            var p = (PrimaryChanged)changed.Event;
            // The old primary stopped taking writes when it was first fenced (failover) or demoted
            // (switchover) since it became primary — an earlier failover attempt that failed may have
            // fenced it already, and its successor promoted.
            var demotes = events.Where(e => e.Version > since && e.Event is DirectiveIssued { Kind: DirectiveKind.Demote } d && d.Node == p.Previous)
                .Select(e => ((DirectiveIssued)e.Event).DirectiveId).ToHashSet(StringComparer.Ordinal);
            var fenced = events.FirstOrDefault(e => e.Version > since && e.Version < changed.Version
                && (e.Event is NodeFenced f && f.Node == p.Previous || e.Event is DirectiveSucceeded s && demotes.Contains(s.DirectiveId)));
            var handover = fenced?.At ?? changed.At;
            if (current is not null) tenures.Add(new Tenure(current, start, handover, term));
            (current, start, term, since) = (p.Node, handover, p.Term, changed.Version);
        }
        if (current is not null) tenures.Add(new Tenure(current, start, DateTimeOffset.MaxValue, term));
        return tenures;
    }

    /// <summary>
    /// Never two writers (§3.1) against the log: every acknowledged write of a node must fall within one of
    /// its tenures (<paramref name="tolerance"/>, default 100 ms, covers the two clocks: the witness
    /// database's and the recorder's, on one machine). A write acknowledged by the old primary after
    /// NodeFenced, or by the new one before it, is reported.
    /// </summary>
    public static IReadOnlyList<Violation> WritesWithinTenures(IReadOnlyList<WriteAttempt> attempts, IReadOnlyList<Tenure> tenures, TimeSpan? tolerance = null)
    {
        var slack = tolerance ?? TimeSpan.FromMilliseconds(100);
        var outside = attempts.Where(a => a.Acknowledged && !tenures.Any(t => t.Node == a.Node && a.AckedAt >= Earlier(t.Start, slack) && a.AckedAt <= Later(t.End, slack))).ToList();
        return outside.Count == 0 ? [] :
            [new Violation(ViolationKind.WriteOutsideTenure,
                $"{outside.Count} write(s) acknowledged outside their node's tenure as the log records it ({string.Join(", ", tenures.Select(t => $"{t.Node} term {t.Term} {At(t.Start == DateTimeOffset.MinValue ? null : t.Start)}–{At(t.End == DateTimeOffset.MaxValue ? null : t.End)}"))}): {Described(outside)}")];
    }

    /// <summary>
    /// No acknowledged write lost (§3.2) across several failovers: a missing write is allowed (up to the
    /// allowance) only as the tail of an ended tenure — no write of the same tenure acknowledged after it
    /// survived; writes of the final tenure may never be missing.
    /// </summary>
    public static (IReadOnlyList<Violation> Violations, IReadOnlyList<WriteAttempt> LostWithinBound) AcknowledgedWritesKeptAcrossTenures(
        IReadOnlyList<WriteAttempt> attempts, SurvivingWrites surviving, IReadOnlyList<Tenure> tenures, TimeSpan? tolerance = null)
    {
        var slack = tolerance ?? TimeSpan.FromMilliseconds(100);
        Tenure? TenureOf(WriteAttempt a) => tenures.FirstOrDefault(t => t.Node == a.Node && a.AckedAt >= Earlier(t.Start, slack) && a.AckedAt <= Later(t.End, slack));
        var violations = new List<Violation>();
        var tails = new List<WriteAttempt>();
        var holes = new List<WriteAttempt>();
        foreach (var lost in attempts.Where(a => a.Acknowledged && !surviving.Ids.Contains(a.Id)))
        {
            var tenure = TenureOf(lost);
            if (tenure is null || tenure.End == DateTimeOffset.MaxValue) { holes.Add(lost); continue; }
            var keptLater = attempts.Any(a => a.Acknowledged && a.Node == lost.Node && a.SentAt > lost.AckedAt && TenureOf(a) == tenure && surviving.Ids.Contains(a.Id));
            if (keptLater) holes.Add(lost); else tails.Add(lost);
        }
        if (holes.Count > 0)
            violations.Add(new Violation(ViolationKind.AcknowledgedWriteLost,
                $"{holes.Count} acknowledged write(s) missing from {surviving.Primary} that are no replication tail of a replaced primary: {Described(holes)}"));
        if (tails.Count > surviving.AllowedLoss)
        {
            violations.Add(new Violation(ViolationKind.LossOverAllowance,
                $"{tails.Count} acknowledged write(s) of replaced primaries are missing from {surviving.Primary}, over the allowance of {surviving.AllowedLoss}: {Described(tails)}"));
            return (violations, []);
        }
        return (violations, tails);
    }

    private static DateTimeOffset Earlier(DateTimeOffset at, TimeSpan by) => at == DateTimeOffset.MinValue ? at : at - by;

    private static DateTimeOffset Later(DateTimeOffset at, TimeSpan by) => at == DateTimeOffset.MaxValue ? at : at + by;

    /// <summary>
    /// No acknowledged write lost (§3.2): every acknowledged id is among <see cref="SurvivingWrites.Ids"/>,
    /// except, with an allowance, up to <see cref="SurvivingWrites.AllowedLoss"/> writes of an old primary
    /// that async replication had not shipped. Such a loss must be a tail of that node's writes: a promoted
    /// replica holds a prefix of the old primary's WAL, so if anything that node committed after a write
    /// survived, the write itself must have survived. Writes acknowledged by the final primary are never
    /// allowed to be missing. Ids present but never acknowledged are fine (an acknowledgement can be lost
    /// in a crash after the commit). Not covered: a history where the allowed loss happened on a node that
    /// later became the writer again (its later writes survive, so the earlier loss looks like a hole).
    /// </summary>
    public static (IReadOnlyList<Violation> Violations, IReadOnlyList<WriteAttempt> LostWithinBound) AcknowledgedWritesKept(
        IReadOnlyList<WriteAttempt> attempts, SurvivingWrites surviving)
    {
        var missing = attempts.Where(a => a.Acknowledged && !surviving.Ids.Contains(a.Id)).OrderBy(a => a.AckedAt).ToList();
        var violations = new List<Violation>();
        var onPrimary = missing.Where(m => m.Node == surviving.Primary).ToList();
        if (onPrimary.Count > 0)
            violations.Add(new Violation(ViolationKind.AcknowledgedWriteLost,
                $"{onPrimary.Count} write(s) acknowledged by the final primary {surviving.Primary} itself are missing from it: {Described(onPrimary)}"));

        var tails = new List<WriteAttempt>();
        foreach (var node in missing.Where(m => m.Node != surviving.Primary).GroupBy(m => m.Node, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var laterSurvivors = attempts.Where(a => a.Node == node.Key && surviving.Ids.Contains(a.Id)).ToList();
            var holes = new List<(WriteAttempt Lost, WriteAttempt Survivor)>();
            foreach (var lost in node)
            {
                var survivor = laterSurvivors.Where(s => s.SentAt > lost.AckedAt).MinBy(s => s.SentAt);
                if (survivor is null) tails.Add(lost);
                else holes.Add((lost, survivor));
            }
            if (surviving.AllowedLoss == 0)
            {
                violations.Add(new Violation(ViolationKind.AcknowledgedWriteLost,
                    $"{node.Count()} write(s) acknowledged by {node.Key} are missing from the final primary {surviving.Primary} (no loss allowed): {Described(node.ToList())}"));
                tails.RemoveAll(t => t.Node == node.Key);
            }
            else if (holes.Count > 0)
            {
                violations.Add(new Violation(ViolationKind.AcknowledgedWriteLost,
                    $"{holes.Count} write(s) acknowledged by {node.Key} are missing from {surviving.Primary} although later writes of {node.Key} survived (not a replication tail): " +
                    string.Join("; ", holes.Take(ListedIds).Select(h => $"id {h.Lost.Id} acked {At(h.Lost.AckedAt)} lost, id {h.Survivor.Id} sent {At(h.Survivor.SentAt)} kept")) +
                    (holes.Count > ListedIds ? $"; and {holes.Count - ListedIds} more" : "")));
            }
        }

        if (tails.Count > surviving.AllowedLoss)
        {
            violations.Add(new Violation(ViolationKind.LossOverAllowance,
                $"{tails.Count} acknowledged write(s) of an old primary are missing from {surviving.Primary}, over the allowance of {surviving.AllowedLoss}: {Described(tails)}"));
            return (violations, []);
        }
        return (violations, tails);
    }

    /// <summary>
    /// The event log's invariants, over events in stream order: versions follow each other by one;
    /// PrimaryChanged terms strictly increase (the bootstrap is term 1); no term event is older than the
    /// highest term seen and each FailoverStarted takes a new term; fencing tokens (of appends and of
    /// directives) never decrease; a PROMOTE is issued only once the node that was writing is fenced —
    /// within a failover, a NodeFenced for its old primary since that node last became primary; outside
    /// one, a NodeFenced or a succeeded DEMOTE of the current primary (§3.1); each answer
    /// (DirectiveSucceeded, DirectiveFailed or DirectiveExpired) is for a directive issued earlier to the same
    /// node and is the only one; at most one failover is in progress; and replaying the whole stream with
    /// <see cref="ClusterState.Replay"/> gives <paramref name="finalState"/>'s Primary, PrimaryTerm and
    /// Version. A directive still unanswered is not a violation. Directives are told apart by their kind,
    /// never by the text of an answer.
    /// </summary>
    public static IReadOnlyList<Violation> EventLog(IReadOnlyList<RecordedEvent> events, ClusterState? finalState = null)
    {
        var violations = new List<Violation>();
        void Add(ViolationKind kind, RecordedEvent at, string evidence) =>
            violations.Add(new Violation(kind, $"version {at.Version} ({at.Type}, {At(at.At)}): {evidence}"));

        RecordedEvent? previous = null;
        long primaryTerm = 0, term = 0;
        (long Token, long Version)? appendToken = null, directiveToken = null;
        string? primary = null;
        var fenced = new HashSet<string>(StringComparer.Ordinal);
        var demoted = new HashSet<string>(StringComparer.Ordinal);
        var issued = new Dictionary<string, (DirectiveIssued Directive, long Version)>(StringComparer.Ordinal);
        var answered = new Dictionary<string, long>(StringComparer.Ordinal);
        (FailoverStarted Failover, long Version)? running = null;
        var requested = new HashSet<string>(StringComparer.Ordinal);

        foreach (var recorded in events)
        {
            if (previous is not null && recorded.Version != previous.Version + 1)
                Add(ViolationKind.VersionNotConsecutive, recorded, $"follows version {previous.Version}");
            previous = recorded;

            if (recorded.FencingToken is { } token)
            {
                if (appendToken is { } highest && token < highest.Token)
                    Add(ViolationKind.FencingTokenWentBack, recorded, $"appended with fencing token {token}, older than {highest.Token} used at version {highest.Version}");
                else appendToken = (token, recorded.Version);
            }

            if (recorded.Event is ITermEvent termed)
            {
                if (termed.Term < term)
                    Add(ViolationKind.TermWentBack, recorded, $"carries term {termed.Term}, older than term {term} already seen");
                else if (recorded.Event is FailoverStarted && termed.Term == term)
                    Add(ViolationKind.TermWentBack, recorded, $"the failover reuses term {term} instead of taking a new one");
                term = Math.Max(term, termed.Term);
            }

            switch (recorded.Event)
            {
                case ClusterBootstrapped b:
                    (primary, primaryTerm, term) = (b.Primary, Math.Max(primaryTerm, 1), Math.Max(term, 1));
                    break;
                case PrimaryChanged p:
                    if (p.Term <= primaryTerm)
                        Add(ViolationKind.PrimaryTermNotIncreasing, recorded, $"names {p.Node} primary of term {p.Term}, not after term {primaryTerm} of {primary ?? "no primary"}");
                    (primary, primaryTerm) = (p.Node, Math.Max(primaryTerm, p.Term));
                    fenced.Remove(p.Node);
                    demoted.Remove(p.Node);
                    break;
                case NodeLeft left when left.Node == primary:
                    primary = null;
                    break;
                case NodeFenced f:
                    fenced.Add(f.Node);
                    break;
                case DirectiveIssued d:
                    if (directiveToken is { } highestDirective && d.FencingToken < highestDirective.Token)
                        Add(ViolationKind.FencingTokenWentBack, recorded, $"directive {d.DirectiveId} carries fencing token {d.FencingToken}, older than {highestDirective.Token} of a directive at version {highestDirective.Version}");
                    else directiveToken = (d.FencingToken, recorded.Version);
                    if (issued.TryGetValue(d.DirectiveId, out var earlier))
                        Add(ViolationKind.DirectiveIdReused, recorded, $"directive {d.DirectiveId} was already issued at version {earlier.Version}");
                    else issued[d.DirectiveId] = (d, recorded.Version);
                    if (d.Kind == DirectiveKind.Promote) CheckPromote(recorded, d);
                    break;
                case DirectiveSucceeded s:
                    Answer(recorded, s.DirectiveId, s.Node);
                    if (issued.TryGetValue(s.DirectiveId, out var demote) && demote.Directive is { Kind: DirectiveKind.Demote } && demote.Directive.Node == s.Node)
                        demoted.Add(s.Node);
                    break;
                case DirectiveFailed f:
                    Answer(recorded, f.DirectiveId, f.Node);
                    break;
                case DirectiveExpired x:
                    Answer(recorded, x.DirectiveId, x.Node);
                    break;
                case FailoverStarted f:
                    if (running is { } other)
                        Add(ViolationKind.OverlappingFailovers, recorded, $"failover {f.FailoverId} started while failover {other.Failover.FailoverId} (version {other.Version}) was still in progress");
                    running = (f, recorded.Version);
                    break;
                case FailoverCompleted c:
                    EndFailover(recorded, c.FailoverId);
                    break;
                case FailoverRequested r:
                    requested.Add(r.RequestId);
                    break;
                case FailoverFailed f when requested.Remove(f.FailoverId):
                    break; // an operator's request the coordinator refused: no failover had started
                case FailoverFailed f:
                    EndFailover(recorded, f.FailoverId);
                    break;
            }
        }

        if (finalState is not null)
        {
            var replayed = ClusterState.Replay(events.Select(e => (e.Event, e.Stamp)));
            if ((replayed.Primary, replayed.PrimaryTerm, replayed.Version) != (finalState.Primary, finalState.PrimaryTerm, finalState.Version))
                violations.Add(new Violation(ViolationKind.ReplayMismatch,
                    $"replaying {events.Count} event(s) gives primary {replayed.Primary ?? "none"} of term {replayed.PrimaryTerm} at version {replayed.Version}; " +
                    $"the final state has primary {finalState.Primary ?? "none"} of term {finalState.PrimaryTerm} at version {finalState.Version}"));
        }
        return violations;

        void CheckPromote(RecordedEvent recorded, DirectiveIssued promote)
        {
            if (running is { } failover && promote.CorrelationId == failover.Failover.FailoverId)
            {
                if (failover.Failover.OldPrimary is { } old && old != promote.Node && !fenced.Contains(old))
                    Add(ViolationKind.PromoteBeforeFence, recorded,
                        $"failover {failover.Failover.FailoverId} promotes {promote.Node} (directive {promote.DirectiveId}) before any NodeFenced for its old primary {old}");
            }
            else if (primary is { } writer && writer != promote.Node && !fenced.Contains(writer) && !demoted.Contains(writer))
            {
                Add(ViolationKind.PromoteBeforeFence, recorded,
                    $"{promote.Node} is promoted (directive {promote.DirectiveId}, operation {promote.CorrelationId}) while the primary {writer} is neither fenced nor demoted");
            }
        }

        void Answer(RecordedEvent recorded, string directiveId, string node)
        {
            if (!issued.TryGetValue(directiveId, out var directive))
                Add(ViolationKind.DirectiveAnsweredUnissued, recorded, $"answers directive {directiveId}, which was not issued earlier");
            else if (answered.TryGetValue(directiveId, out var first))
                Add(ViolationKind.DirectiveAnsweredTwice, recorded, $"answers directive {directiveId} ({directive.Directive.Kind} to {directive.Directive.Node}, version {directive.Version}) again; first answered at version {first}");
            else if (directive.Directive.Node != node)
                Add(ViolationKind.DirectiveAnsweredUnissued, recorded, $"{node} answers directive {directiveId}, which was issued to {directive.Directive.Node} at version {directive.Version}");
            answered.TryAdd(directiveId, recorded.Version);
        }

        void EndFailover(RecordedEvent recorded, string failoverId)
        {
            if (running?.Failover.FailoverId != failoverId)
                Add(ViolationKind.FailoverEndedWithoutStart, recorded, $"ends failover {failoverId}, which is not in progress ({(running is { } r ? $"failover {r.Failover.FailoverId} is" : "none is")})");
            else running = null;
        }
    }

    private static string Summarize(
        IReadOnlyList<WriteAttempt> attempts, SurvivingWrites? surviving, IReadOnlyList<WriteAttempt> lostWithinBound,
        IReadOnlyList<RecordedEvent>? events, IReadOnlyList<Violation> violations)
    {
        var summary = new StringBuilder($"{attempts.Count} write attempt(s), {attempts.Count(a => a.Acknowledged)} acknowledged");
        foreach (var node in attempts.GroupBy(a => a.Node, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var acked = node.Where(a => a.Acknowledged).ToList();
            summary.Append($"; {node.Key}: {acked.Count} of {node.Count()} acknowledged");
            if (acked.Count > 0) summary.Append($" ({At(acked.Min(a => a.AckedAt))} to {At(acked.Max(a => a.AckedAt))})");
            if (node.LastOrDefault(a => a.Error is not null) is { } failed) summary.Append($", last error: {failed.Error}");
        }
        if (surviving is not null)
            summary.Append($"\n{surviving.Ids.Count} id(s) on the final primary {surviving.Primary}; allowance {surviving.AllowedLoss}; lost within bound: ")
                .Append(lostWithinBound.Count == 0 ? "none" : Ids(lostWithinBound));
        if (events is { Count: > 0 })
            summary.Append($"\n{events.Count} event(s), versions {events[0].Version} to {events[^1].Version}");
        summary.Append(violations.Count == 0 ? "\nviolations: none" : $"\nviolations: {violations.Count} ({string.Join(", ", violations.Select(v => v.Kind).Distinct())})");
        return summary.ToString();
    }

    private static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);

    private static string At(DateTimeOffset? at) => at is { } time ? HistoryTimes.Format(time) : "never";

    private static string Ids(IReadOnlyList<WriteAttempt> writes) =>
        string.Join(", ", writes.Take(ListedIds).Select(w => w.Id)) + (writes.Count > ListedIds ? $" and {writes.Count - ListedIds} more" : "");

    private static string Described(IReadOnlyList<WriteAttempt> writes) =>
        string.Join("; ", writes.Take(ListedIds).Select(w => $"id {w.Id} on {w.Node} acked {At(w.AckedAt)}")) +
        (writes.Count > ListedIds ? $"; and {writes.Count - ListedIds} more" : "");
}
