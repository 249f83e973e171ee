using System.Globalization;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Core.Failover;

/// <summary>What the coordinator knows of a switchover's target and the primary at one moment (from their heartbeats).</summary>
/// <param name="TargetFresh">the target's agent reported recently</param>
public sealed record SwitchoverEvidence(bool TargetFresh, bool TargetRunning, bool TargetInRecovery, Lsn? TargetReplayed, Lsn? PrimaryCurrent);

/// <summary>
/// A planned switchover (DESIGN §5) as a pure step function of the log, like <see cref="FailoverSteps"/>:
/// wait for the scheduled time; refuse a target that is not ready or lags beyond switchover.max_lag;
/// CHECKPOINT the primary (so the demotion's own checkpoint is short); DEMOTE it cleanly (it restarts
/// as a standby of the target and answers with its final LSN; writes pause here); PROMOTE the target
/// once it has replayed that LSN (its agent waits for it); then PrimaryChanged, the old primary recorded as rejoined
/// by demotion (no rewind), REPOINT of the others, SwitchoverCompleted with the write pause.
/// </summary>
public static class SwitchoverSteps
{
    /// <summary>
    /// Why <paramref name="to"/> may not take over from <paramref name="from"/> now (no fresh report, not a
    /// running standby, behind beyond switchover.max_lag), or null: the coordinator's check before it starts,
    /// and the API's before it records a request.
    /// </summary>
    public static string? TargetProblem(SwitchoverEvidence evidence, string from, string to, long maxLagBytes)
    {
        if (!evidence.TargetFresh) return $"no fresh report from {to}'s agent";
        if (!evidence.TargetRunning || !evidence.TargetInRecovery) return $"{to} is not a running standby";
        if (evidence.PrimaryCurrent is { } primary && evidence.TargetReplayed is { } replayed && Lsn.BytesBehind(primary, replayed) > maxLagBytes)
            return $"{to} lags {Lsn.BytesBehind(primary, replayed)} bytes behind {from}, over switchover.max_lag ({maxLagBytes})";
        return null;
    }

    public static Decision Next(ClusterState state, SwitchoverEvidence evidence, long maxLagBytes, CoordinatorContext context)
    {
        var by = Initiator.Coordinator(context.Node);
        var sw = state.Switchover ?? throw new InvalidOperationException("no switchover in progress");
        var (from, to) = (sw.From!, sw.To!);
        if (sw.At is { } at && at > context.Now && sw.CheckpointDirective is null)
            return Decision.Wait($"switchover {sw.Id} from {from} to {to} is scheduled at {at.ToString("O", CultureInfo.InvariantCulture)}");

        if (sw.CheckpointDirective is null)
        {
            if (TargetProblem(evidence, from, to, maxLagBytes) is { } problem) return Failed(sw, problem, context, by);
            return new Decision($"switchover {sw.Id}: CHECKPOINT on {from} before demoting it",
                [context.Issue(from, state.Term + 1, sw.Id, new Checkpoint())]);
        }

        if (Waiting(state, sw.CheckpointDirective, sw.CheckpointOutcome, context) is { } checkpointing) return checkpointing == "" ? Decision.Wait($"waiting for CHECKPOINT on {from}") : Failed(sw, $"CHECKPOINT on {from} {checkpointing}", context, by);
        if (sw.DemoteDirective is null)
            return new Decision($"switchover {sw.Id}: demoting {from}; writes pause until {to} is promoted",
                [context.Issue(from, sw.Term, sw.Id, new Demote(to))]);

        if (Waiting(state, sw.DemoteDirective, sw.DemoteOutcome, context) is { } demoting) return demoting == "" ? Decision.Wait($"waiting for {from} to demote") : Failed(sw, $"DEMOTE of {from} {demoting}", context, by);
        // The final LSN the old primary's agent answered DEMOTE with (recorded from its typed outcome).
        var final = Lsn.TryParse(sw.FinalLsn, out var lsn) ? lsn : (Lsn?)null;
        if (sw.PromoteDirective is null)
        {
            // The target's agent promotes only once it has replayed the final LSN (it waits for it locally,
            // no heartbeat round trip): it then has every write the old primary acknowledged.
            return new Decision($"switchover {sw.Id}: promoting {to} once it has replayed {from}'s final LSN {final?.ToString() ?? "(unknown)"}",
                [context.Promote(to, sw.Term, sw.Id, final)]);
        }

        if (Waiting(state, sw.PromoteDirective, sw.PromoteOutcome, context) is { } promoting) return promoting == "" ? Decision.Wait($"waiting for {to} to finish PROMOTE") : Failed(sw, $"PROMOTE of {to} {promoting}", context, by);
        var timeline = state.Timeline + 1;
        var pause = context.Now - (sw.DemoteIssuedAt ?? sw.StartedAt);
        List<ClusterEvent> done =
        [
            new PrimaryChanged(sw.Term, to, from, timeline, final?.ToString() ?? "0/0") { By = by, CorrelationId = sw.Id },
            new NodeRejoined(from, "demote", timeline, pause) { By = by, CorrelationId = sw.Id },
        ];
        foreach (var replica in state.Nodes.Values.Where(n => n.Name != to && n.Name != from && n.Role == NodeRole.Replica))
            done.Add(context.Issue(replica.Name, sw.Term, sw.Id, new Repoint(to)));
        done.Add(new SwitchoverCompleted(sw.Id, from, to, context.Now - sw.StartedAt, pause) { By = by, CorrelationId = sw.Id });
        return new Decision($"switchover {sw.Id}: {to} is the primary of term {sw.Term}; writes paused for {pause.TotalMilliseconds:0} ms", done);
    }

    /// <summary>"" while the directive is pending and not expired; its outcome when it did not succeed; null when it succeeded.</summary>
    private static string? Waiting(ClusterState state, string directive, string? outcome, CoordinatorContext context)
    {
        if (outcome == "succeeded") return null;
        if (outcome is not null) return outcome;
        return state.PendingDirectives.TryGetValue(directive, out var pending) && pending.ExpiresAt > context.Now ? "" : "expired without an answer";
    }

    private static Decision Failed(ActiveOperation sw, string reason, CoordinatorContext context, Initiator by) =>
        new($"switchover {sw.Id} failed: {reason}", [new SwitchoverFailed(sw.Id, reason) { By = by, CorrelationId = sw.Id }]);
}
