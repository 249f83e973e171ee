using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Core.Failover;

/// <summary>Who decides, with what token, and when.</summary>
public sealed record CoordinatorContext(string Node, long FencingToken, DateTimeOffset Now, TimeSpan DirectiveTimeout, Func<string> NewId)
{
    /// <summary>
    /// The synchronous_standby_names every PROMOTE starts the new primary with (nobody, or anyone in strict
    /// synchronous mode); null leaves the node's setting as it is.
    /// </summary>
    public string? PromoteSynchronousStandbyNames { get; init; }

    /// <summary>A PROMOTE of <paramref name="node"/> with <see cref="PromoteSynchronousStandbyNames"/>, once it has replayed <paramref name="afterLsn"/> (a switchover).</summary>
    public DirectiveIssued Promote(string node, long term, string correlation, Lsn? afterLsn = null) =>
        Issue(node, term, correlation, new Directives.Promote(PromoteSynchronousStandbyNames, afterLsn?.ToString()));

    /// <summary>A directive from this coordinator, fenced by its token, expiring after <paramref name="timeout"/> (default <see cref="DirectiveTimeout"/>).</summary>
    public DirectiveIssued Issue(string node, long term, string correlation, Directive directive, TimeSpan? timeout = null) =>
        new(NewId(), node, directive.Kind, term, FencingToken, Now + (timeout ?? DirectiveTimeout), directive)
        { By = Initiator.Coordinator(Node), CorrelationId = correlation };
}

/// <summary>What the coordinator decided this round: the events to append (directives included), and why, in one line.</summary>
public sealed record Decision(string Why, IReadOnlyList<ClusterEvent> Events)
{
    public static Decision Wait(string why) => new(why, []);
}

/// <summary>
/// The failover sequence of DESIGN §5 as a pure step function of the event log: FailoverStarted →
/// FENCE the old primary (or wait for its lease to expire) → PROMOTE the candidate → PrimaryChanged,
/// REPOINT the other replicas, FailoverCompleted. Each call looks only at the state the log describes
/// (and the current evidence), so a new coordinator replaying the log resumes an interrupted failover
/// exactly where it stopped. The decision loop appends what this returns, fenced by its token.
/// </summary>
public static class FailoverSteps
{
    /// <param name="force">a manual failover an operator forced: paused or not</param>
    public static Decision Next(ClusterState state, PrimaryVerdict verdict, Func<CandidateChoice> choose, string? primaryLeaseHolder, CoordinatorContext context, bool force = false)
    {
        var by = Initiator.Coordinator(context.Node);
        if (state.Failover is not { Kind: "failover" } failover)
        {
            if (!verdict.Lost) return Decision.Wait($"primary {state.Primary} is healthy");
            if (state.Paused && !force) return Decision.Wait($"primary {state.Primary} is lost ({verdict.Trigger}) but automatic failover is paused ({state.PausedReason})");
            var choice = choose();
            if (choice.Chosen is null)
                return Decision.Wait($"primary {state.Primary} is lost ({verdict.Trigger}) but no candidate qualifies: {string.Join("; ", choice.Assessments.Select(a => $"{a.Node}: {a.RejectedBecause}"))}");
            var id = context.NewId();
            var term = state.Term + 1;
            List<ClusterEvent> events =
            [
                new FailoverStarted(id, term, verdict.Trigger!, state.Primary, choice.Chosen, choice.Assessments, verdict.Observations)
                { By = by, CorrelationId = id, TriggerKind = verdict.TriggerKind, ReferenceLsn = choice.ReferenceLsn?.ToString() },
            ];
            if (state.Primary is { } old && state.Nodes.TryGetValue(old, out var oldNode) && !oldNode.Fenced)
                events.Add(context.Issue(old, term, id, new Fence()));
            return new Decision($"failing over from {state.Primary} to {choice.Chosen} in term {term}: {verdict.Trigger}", events);
        }

        if (!failover.FromFenced && failover.From is { } from)
        {
            if (failover.FenceOutcome == "succeeded")
                return new Decision($"{from}'s agent acknowledged FENCE",
                    [new NodeFenced(from, failover.Term, "its agent acknowledged FENCE", null) { By = by, CorrelationId = failover.Id }]);
            if (primaryLeaseHolder != from)
                return new Decision($"{from} no longer holds the primary lease (expired or released): it can no longer accept writes",
                    [new NodeFenced(from, failover.Term, "its primary lease expired or was released", null) { By = by, CorrelationId = failover.Id }]);
            var pending = failover.FenceDirective is { } fence && state.PendingDirectives.TryGetValue(fence, out var p) && p.ExpiresAt > context.Now;
            return Decision.Wait(pending
                ? $"waiting for {from} to acknowledge FENCE or for its primary lease to expire"
                : $"FENCE of {from} {(failover.FenceOutcome ?? "expired")}; waiting for its primary lease to expire before promoting anyone");
        }

        if (failover.PromoteDirective is null)
            return new Decision($"promoting {failover.To}", [context.Promote(failover.To!, failover.Term, failover.Id)]);

        if (failover.PromoteOutcome is null)
        {
            var stillPending = state.PendingDirectives.TryGetValue(failover.PromoteDirective, out var promote) && promote.ExpiresAt > context.Now;
            return stillPending
                ? Decision.Wait($"waiting for {failover.To} to finish PROMOTE")
                : Failed(failover, $"PROMOTE of {failover.To} expired without an answer", context, by);
        }
        if (failover.PromoteOutcome != "succeeded")
            return Failed(failover, $"PROMOTE of {failover.To} {failover.PromoteOutcome}", context, by);

        List<ClusterEvent> done = [new PrimaryChanged(failover.Term, failover.To!, failover.From, state.Timeline + 1, failover.CandidateLsn ?? "0/0") { By = by, CorrelationId = failover.Id }];
        foreach (var replica in state.Nodes.Values.Where(n => n.Name != failover.To && n.Name != failover.From && n.Role == NodeRole.Replica))
            done.Add(context.Issue(replica.Name, failover.Term, failover.Id, new Repoint(failover.To!)));
        done.Add(new FailoverCompleted(failover.Id, failover.Term, failover.To!, context.Now - failover.StartedAt) { By = by, CorrelationId = failover.Id });
        return new Decision($"{failover.To} is the primary of term {failover.Term}; repointing the other replicas", done);
    }

    private static Decision Failed(ActiveOperation failover, string reason, CoordinatorContext context, Initiator by) =>
        new($"failover {failover.Id} failed: {reason}", [new FailoverFailed(failover.Id, failover.Term, reason, context.Now - failover.StartedAt) { By = by, CorrelationId = failover.Id }]);
}
