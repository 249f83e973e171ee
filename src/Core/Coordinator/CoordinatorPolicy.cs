using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Parameters;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Core.Coordinator;

/// <summary>
/// Every decision of the coordinator (DESIGN §5), as one pure function of the log (<see cref="ClusterState"/>),
/// this round's <see cref="CoordinatorEvidence"/> and the timers of <see cref="CoordinatorMemory"/>: no I/O,
/// no clock, ids from the evidence. What a successor needs to resume a failover or a switchover is in the
/// log, so a coordinator that starts with <see cref="CoordinatorMemory.Empty"/> picks up where a dead one
/// stopped. The loop around it only gathers the evidence, appends the decision's events and keeps the memory.
/// </summary>
public static partial class CoordinatorPolicy
{
    /// <summary>How long a replica may follow something other than the primary before it is repointed.</summary>
    public static readonly TimeSpan StrayGrace = TimeSpan.FromSeconds(5);

    /// <summary>REPOINTs in a row that did not make a replica follow: the next attempt rewinds it.</summary>
    public const int RepointsBeforeRewind = 2;

    /// <summary>How long housekeeping leaves a node alone after issuing it a directive.</summary>
    public static readonly TimeSpan DirectiveBackoff = TimeSpan.FromSeconds(10);

    /// <summary>At most one change of synchronous_standby_names sent per this span (a failing one is not sent every tick).</summary>
    public static readonly TimeSpan SynchronousThrottle = TimeSpan.FromSeconds(1);

    /// <summary>The one decision of this round (events to append, possibly none, and why) and the memory for the next.</summary>
    public static (Decision Decision, CoordinatorMemory Memory) Decide(ClusterState? state, CoordinatorEvidence evidence, CoordinatorMemory memory)
    {
        var round = new Round(evidence, memory.InOfficeSince is null ? memory with { InOfficeSince = evidence.Now } : memory);
        var decision = round.Decide(state);
        return (decision, round.Memory);
    }

    /// <summary>One round: the evidence, and the memory as this round updates it.</summary>
    private sealed partial class Round(CoordinatorEvidence evidence, CoordinatorMemory memory)
    {
        private readonly CoordinatorSettings _settings = evidence.Settings;
        private readonly Initiator _by = Initiator.Coordinator(evidence.Node);
        private DateTimeOffset Now => evidence.Now;

        public CoordinatorMemory Memory { get; private set; } = memory;

        /// <summary>The precedence of the coordinator's decisions, in one list: the first that applies decides.</summary>
        public Decision Decide(ClusterState? state)
        {
            // 1. No history: bootstrap with the one member whose PostgreSQL accepts writes.
            if (state is null) return Bootstrap();

            // 2. The log names another coordinator (or this one with an older token): take office first,
            //    so everything after is fenced by this lease's token.
            if (state.Coordinator != evidence.Node || state.CoordinatorToken != evidence.Token) return TakeOffice();

            var context = Context();

            // 3. Directives nobody answered in time are no longer pending: say so before deciding on.
            if (Expired(state) is { } expired) return expired;

            // 4. A switchover runs to its end; its primary is demoted on purpose, not judged lost meanwhile.
            if (state.Switchover is not null && state.Failover is null) return Switchover(state, context);

            // 5. An operator's manual failover: refused, or started paused or not.
            if (state.RequestedFailover is { } request && state.Failover is null) return ManualFailover(state, request, context);

            // 6. A failover under way, or no primary at all: the failover steps (the verdict only names the trigger).
            if (state.Failover is not null || state.Primary is null || !state.Nodes.ContainsKey(state.Primary))
                return Failover(state, Judge(state, leaseHolder: null), context);

            var verdict = Judge(state, evidence.PrimaryLeaseHolder);

            // 7. Paused means paused (DESIGN §3.6): no failover, say why; what is seen is still recorded.
            if (verdict.Lost && state.Paused)
            {
                var paused = FailoverSteps.Next(state, verdict, () => Choose(state), evidence.PrimaryLeaseHolder, context);
                return (Housekeeping(state, context) ?? Parameters(state, context)) is { } health ? health with { Why = $"{paused.Why}; {health.Why}" } : paused;
            }

            // 8. The primary is lost: fail over.
            if (verdict.Lost) return Failover(state, verdict, context);

            // 9. Housekeeping with the primary serving: node health, rejoining a former primary (REWIND),
            //    REINITIALIZE on request, stray and diverged replicas, replication state.
            var housekeeping = Housekeeping(state, context);
            if (housekeeping is { Events.Count: > 0 }) return housekeeping;

            // 10. Parameters and rolling restarts: only once nothing above had to be done.
            var parameters = Parameters(state, context);
            if (parameters is { Events.Count: > 0 }) return parameters;

            // 11. Synchronous standbys, kept in step also while a rolling restart waits.
            var synchronous = Synchronous(state, context);
            if (synchronous is { Events.Count: > 0 }) return synchronous;

            return parameters ?? synchronous ?? Decision.Wait($"primary {state.Primary} is healthy");
        }

        private CoordinatorContext Context() => new(evidence.Node, evidence.Token, Now, _settings.DirectiveTimeout, evidence.NewId)
        {
            // A new primary waits for nobody until its standbys are recorded again, or for anyone in strict mode.
            PromoteSynchronousStandbyNames = _settings.Synchronous is { Mode: not SynchronousMode.Off, Strict: true } ? "*" : "",
        };

        private Decision Bootstrap()
        {
            var cluster = evidence.Cluster;
            var writable = evidence.Members.Where(m => evidence.Fresh(m.Name) is { PostgresRunning: true, InRecovery: false }).ToList();
            if (writable.Count == 0) return Decision.Wait($"cluster {cluster} has no history yet: waiting for a member to report a running primary");
            if (writable.Count > 1)
                return Decision.Wait($"cluster {cluster} has no history yet and {string.Join(" and ", writable.Select(w => w.Name))} all accept writes: refusing to bootstrap until only one does");
            var primary = evidence.Heartbeats[writable[0].Name];
            var id = $"bootstrap-{evidence.Token}";
            return new Decision($"bootstrapping cluster {cluster} with primary {primary.Node} on timeline {primary.Timeline}",
            [
                new ClusterBootstrapped(cluster, primary.Node, primary.Timeline ?? 1, primary.CurrentLsn?.ToString() ?? "0/0", evidence.Members) { By = _by, CorrelationId = id },
                new CoordinatorElected(evidence.Node, evidence.Token) { By = _by, CorrelationId = id },
            ]);
        }

        private Decision TakeOffice() => new($"{evidence.Node} takes office as coordinator with token {evidence.Token}",
            [new CoordinatorElected(evidence.Node, evidence.Token) { By = _by, CorrelationId = $"coordinator-{evidence.Token}" }]);

        private Decision? Expired(ClusterState state)
        {
            var expired = state.PendingDirectives.Values.Where(d => d.ExpiresAt <= Now).ToList();
            if (expired.Count == 0) return null;
            return new Decision($"{expired.Count} directive(s) expired without an answer", [.. expired.Select(d =>
            {
                var attempt = d.Kind == DirectiveKind.Repoint ? Memory.RepointAttempts.GetValueOrDefault(d.Node, 1) : 1;
                var retrying = d.Kind is DirectiveKind.Repoint or DirectiveKind.Rewind or DirectiveKind.Reinitialize or DirectiveKind.Checkpoint or DirectiveKind.ApplyConfig;
                return new DirectiveExpired(d.DirectiveId, d.Node, d.Kind, attempt, retrying,
                    $"no answer from {d.Node}'s agent by {d.ExpiresAt:HH:mm:ss.fff}" + (retrying ? "; it will be issued again when its agent is back" : "; abandoned"))
                { By = _by, CorrelationId = d.DirectiveId };
            })]);
        }

        private Decision Switchover(ClusterState state, CoordinatorContext context)
        {
            var switchover = state.Switchover!;
            var target = evidence.Fresh(switchover.To!);
            var primaryBeat = evidence.Heartbeats.GetValueOrDefault(switchover.From!);
            var seen = new SwitchoverEvidence(target is not null, target?.PostgresRunning ?? false, target?.InRecovery ?? false, target?.ReplayedLsn, primaryBeat?.CurrentLsn);
            return SwitchoverSteps.Next(state, seen, _settings.SwitchoverMaxLag, context);
        }

        /// <summary>
        /// An operator's failover to a named node: refused (FailoverFailed with the reason) while the primary is
        /// healthy — that is a switchover — or when the node cannot be promoted; a node that is only ranked after
        /// another with the same LSN is as good a choice, and one that may only lack commits is promoted when data
        /// loss was allowed. Then the ordinary sequence runs, paused or not.
        /// </summary>
        private Decision ManualFailover(ClusterState state, FailoverRequested request, CoordinatorContext context)
        {
            Decision Refuse(string reason) => new($"manual failover {request.RequestId} refused: {reason}",
                [new FailoverFailed(request.RequestId, state.Term, reason, TimeSpan.Zero) { By = _by, CorrelationId = request.RequestId }]);

            var verdict = Judge(state, evidence.PrimaryLeaseHolder);
            var primaryBeat = state.Primary is { } primary ? evidence.Fresh(primary) : null;
            if (!verdict.Lost && primaryBeat is { PostgresRunning: true, InRecovery: false })
                return Refuse($"the primary {state.Primary} is healthy: use pgha switchover to move it");
            var choice = Choose(state);
            var target = choice.Assessments.First(a => a.Node == request.To);
            if (target.Rejection is { } rejection && !FailoverPolicy.OnlyRankedLower(rejection) && !(request.AllowDataLoss && FailoverPolicy.MayOnlyLackCommits(rejection)))
                return Refuse($"{request.To} cannot be promoted: {target.RejectedBecause}" + (FailoverPolicy.MayOnlyLackCommits(rejection) ? "; add --allow-data-loss to promote it anyway" : ""));
            var assessments = choice.Assessments
                .Select(a => a.Node == request.To ? a with { RejectedBecause = null, Rejection = null }
                    : a.Rejection is null ? a with { RejectedBecause = $"the operator asked for {request.To}", Rejection = CandidateRejection.OperatorChoseAnother } : a)
                .ToList();
            var manual = new PrimaryVerdict($"manual failover to {request.To} requested by {request.By}{(request.AllowDataLoss ? " (data loss allowed)" : "")}"
                + (verdict.Lost ? $"; {verdict.Trigger}" : ""), verdict.Observations)
            { TriggerKind = FailureTrigger.Manual };
            return FailoverSteps.Next(state, manual, () => new CandidateChoice(request.To, assessments) { ReferenceLsn = choice.ReferenceLsn },
                evidence.PrimaryLeaseHolder, context, force: true);
        }

        private Decision Failover(ClusterState state, PrimaryVerdict verdict, CoordinatorContext context)
        {
            // Replicas lose their upstream during a failover; the failover repoints them.
            Memory = Memory with { StrayUpstreamSince = Memory.StrayUpstreamSince.Clear() };
            return FailoverSteps.Next(state, verdict, () => Choose(state), evidence.PrimaryLeaseHolder, context);
        }

        /// <summary>The failure detector's verdict, with the lease grace: a primary whose agent is alive and serving takes a moment to (re)take its lease.</summary>
        private PrimaryVerdict Judge(ClusterState state, string? leaseHolder)
        {
            var primary = state.Primary;
            var own = primary is null ? null : evidence.Fresh(primary);
            var observations = evidence.Heartbeats.Values
                .Where(r => r.Node != primary && evidence.Fresh(r.Node) is not null)
                .SelectMany(r => r.Peers.Where(p => p.Peer == primary).Select(p => new PrimaryObservation(r.Node, p.Reachable, p.UnreachableSince, p.Detail)))
                .ToList();

            // A free lease counts as expired only when the primary's agent is silent or says it is not serving,
            // or after a grace of 2 × heartbeat freshness.
            if (leaseHolder != primary)
            {
                var missingSince = Memory.LeaseMissingSince ?? Now;
                Memory = Memory with { LeaseMissingSince = missingSince };
                if (own is { PostgresRunning: true, InRecovery: false } && Now - missingSince < _settings.HeartbeatFreshness + _settings.HeartbeatFreshness)
                    leaseHolder = primary;
            }
            else
            {
                Memory = Memory with { LeaseMissingSince = null };
            }
            return FailureDetector.JudgePrimary(state, new PrimaryEvidence(own is { PostgresRunning: false } ? own.PostgresDownSince ?? Now : null, leaseHolder, observations), _settings.Detection, Now);
        }

        /// <summary>The candidate rule over the heartbeats, judged against the primary's last known position: the log's, its last heartbeat's or the recorded one, whichever is furthest.</summary>
        private CandidateChoice Choose(ClusterState state)
        {
            var reports = evidence.Heartbeats.Values.ToDictionary(r => r.Node, r => new NodeReport(
                r.Node, r.PostgresRunning ? NodeHealth.Healthy : NodeHealth.Unhealthy, r.InRecovery, r.ReceivedLsn, r.ReplayedLsn, r.ReceivedAt), StringComparer.Ordinal);
            Lsn? primaryLastKnown = Lsn.TryParse(state.PrimaryLsn, out var logged) ? logged : null;
            if (state.Primary is { } primary && evidence.Heartbeats.GetValueOrDefault(primary)?.CurrentLsn is { } reported
                && (primaryLastKnown is null || reported > primaryLastKnown.Value))
                primaryLastKnown = reported;
            if (evidence.PrimaryPosition is { } recorded && recorded.Node == state.Primary && (primaryLastKnown is null || recorded.Lsn > primaryLastKnown.Value))
                primaryLastKnown = recorded.Lsn;
            return FailoverPolicy.ChooseCandidate(state, reports, primaryLastKnown, _settings.Failover, Now);
        }

        /// <summary>With the primary serving: parameters applied on every member, then rolling restarts (<see cref="ParameterRollout"/>).</summary>
        private Decision? Parameters(ClusterState state, CoordinatorContext context)
        {
            if (evidence.Fresh(state.Primary!) is not { PostgresRunning: true, InRecovery: false }) return null;
            var reports = state.Nodes.Keys.Select(n => (Name: n, Beat: evidence.Fresh(n))).Where(r => r.Beat is not null)
                .ToDictionary(r => r.Name, r => new MemberReport(r.Beat!.PostgresRunning, r.Beat.InRecovery, r.Beat.Upstream), StringComparer.Ordinal);
            return ParameterRollout.Next(state, reports, context);
        }

        /// <summary>With the primary serving: keep synchronous_standby_names and the logged synchronous standbys in step (<see cref="SynchronousSteps"/>).</summary>
        private Decision? Synchronous(ClusterState state, CoordinatorContext context)
        {
            var primary = state.Primary!;
            if (evidence.Fresh(primary) is not { PostgresRunning: true, InRecovery: false } primaryBeat) return null;
            var reports = state.Nodes.Keys.Where(n => n != primary).ToDictionary(n => n, n =>
            {
                var beat = evidence.Fresh(n);
                var streaming = beat is not null && Follows(beat, primary, primaryBeat);
                // A dying primary cuts its standbys' streams before its own heartbeat says it is down: a standby
                // that streamed from this primary counts as gone only after failure_timeout, or the failover
                // would find nobody recorded. Only what it flushed while streaming from this primary counts.
                var key = primary + "/" + n;
                if (streaming)
                {
                    Memory = Memory with { NotStreamingSince = Memory.NotStreamingSince.Remove(key), EverStreamed = Memory.EverStreamed.Add(key) };
                    return new StandbyReport(n, true, beat!.ReceivedLsn);
                }
                if (!Memory.NotStreamingSince.TryGetValue(key, out var since))
                    Memory = Memory with { NotStreamingSince = Memory.NotStreamingSince.SetItem(key, since = Now) };
                return new StandbyReport(n, Memory.EverStreamed.Contains(key) && Now - since < _settings.Detection.FailureTimeout, null);
            }, StringComparer.Ordinal);
            var decision = SynchronousSteps.Next(state, _settings.Synchronous, reports, context);
            if (decision is null || !decision.Events.Any(e => e is DirectiveIssued)) return decision;
            if (Memory.SynchronousIssuedAt is { } issued && Now - issued < SynchronousThrottle) return null;
            Memory = Memory with { SynchronousIssuedAt = Now };
            return decision;
        }

        /// <summary>A standby streaming from <paramref name="primary"/> on its timeline (connected but on an older one, it cannot follow: see Housekeeping).</summary>
        private static bool Follows(HeartbeatReport beat, string primary, HeartbeatReport primaryBeat) =>
            beat is { PostgresRunning: true, InRecovery: true } && beat.Upstream == primary && !(beat.Timeline < primaryBeat.Timeline);
    }
}
