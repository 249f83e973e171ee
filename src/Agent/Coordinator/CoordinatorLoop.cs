using HA.Agent.Gossip;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Leases;
using HA.Core.Parameters;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Coordinator;

/// <summary>The coordinator's timings and limits.</summary>
public sealed record CoordinatorSettings
{
    public DetectionSettings Detection { get; init; } = new();
    public FailoverSettings Failover { get; init; } = new();

    /// <summary>failover.directive_timeout: how long FENCE, PROMOTE, REPOINT and CHECKPOINT may take before they expire.</summary>
    public TimeSpan DirectiveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long REWIND and REINITIALIZE may take (a base backup can be long).</summary>
    public TimeSpan RejoinTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How often the decision loop looks at the evidence.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>switchover.max_lag: a switchover target further behind the primary is refused.</summary>
    public long SwitchoverMaxLag { get; init; } = 1024 * 1024;

    /// <summary>A streaming replica further behind than this is logged as lagging (ReplicationStateChanged) and serves no reads (proxy.max_replica_lag).</summary>
    public long MaxReplicaLag { get; init; } = 16 * 1024 * 1024;

    /// <summary>replication.synchronous_mode and friends: which standbys the primary waits for.</summary>
    public SynchronousSettings Synchronous { get; init; } = new();

    /// <summary>A heartbeat older than this means the agent is silent.</summary>
    public TimeSpan HeartbeatFreshness { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// The coordinator's decision loop (DESIGN §5), run by the coordinator-lease holder for as long as it
/// holds the lease: read the log, gather the evidence (gossiped heartbeats, the primary lease), judge
/// the primary, and append what follows — bootstrap, failover steps, rejoins, repoints, health changes,
/// expired directives — fenced by the lease's token. Every decision is a pure function of the log
/// and the evidence, so a new coordinator picks up where a dead one stopped.
/// </summary>
public sealed class CoordinatorLoop(
    string cluster,
    string node,
    IReadOnlyList<NodeSpec> members,
    IClusterLog log,
    ILeaseStore leases,
    Func<IReadOnlyDictionary<string, ReceivedHeartbeat>> heartbeats,
    CoordinatorSettings settings,
    TimeProvider time,
    ILogger? logger = null,
    Func<TimeSpan, CancellationToken, Task>? waitForChange = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly Dictionary<string, DateTimeOffset> _strayUpstreamSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastIssued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _notStreamingSince = new(StringComparer.Ordinal);
    private readonly HashSet<string> _everStreamed = new(StringComparer.Ordinal);
    private DateTimeOffset _synchronousIssuedAt;
    private (string Node, Lsn Lsn)? _recordedPosition;
    private bool _positionLoaded;
    private DateTimeOffset _positionRecordedAt;
    private DateTimeOffset? _leaseMissingSince;
    private DateTimeOffset _inOfficeSince;
    private string? _lastWhy;

    /// <summary>Decides until <paramref name="office"/> is cancelled (the lease was lost or the agent stops).</summary>
    public async Task RunAsync(LeaseGrant grant, CancellationToken office)
    {
        _inOfficeSince = time.GetUtcNow();
        while (!office.IsCancellationRequested)
        {
            try
            {
                await RoundAsync(grant, office).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (office.IsCancellationRequested)
            {
                return;
            }
            catch (ClusterLogMovedOn e)
            {
                // Another appender (an agent's answer) won the race: decide again on the new state.
                _logger.LogDebug("Coordinator {Node}: {Error}", node, e.Message);
            }
            catch (Exception e)
            {
                // The witness store is unreachable or refused the decision: decide again next round.
                _logger.LogWarning("Coordinator {Node}: {Error}", node, e.GetBaseException().Message);
                await PauseAsync(TimeSpan.FromMilliseconds(500), office).ConfigureAwait(false);
            }
            if (waitForChange is null) await PauseAsync(settings.Tick, office).ConfigureAwait(false);
            else
            {
                // Woken at once by an append (an agent's answer), or after a tick at the latest.
                try { await waitForChange(settings.Tick, office).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
        }
    }

    private async Task PauseAsync(TimeSpan span, CancellationToken office)
    {
        try { await Task.Delay(span, time, office).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    /// <summary>One decision round; returns why it did (or did not) act.</summary>
    public async Task<string> RoundAsync(LeaseGrant grant, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var state = await log.ReadAsync(cancellationToken).ConfigureAwait(false);
        var seen = heartbeats();
        Decision decision;
        if (state is null)
        {
            decision = Bootstrap(seen, grant, now);
        }
        else if (state.Coordinator != node || state.CoordinatorToken != grant.Token)
        {
            decision = new Decision($"{node} takes office as coordinator with token {grant.Token}",
                [new CoordinatorElected(node, grant.Token) { By = Initiator.Coordinator(node), CorrelationId = $"coordinator-{grant.Token}" }]);
        }
        else
        {
            decision = await DecideAsync(state, seen, grant, now, cancellationToken).ConfigureAwait(false);
        }

        if (decision.Events.Count > 0)
        {
            await log.AppendAsync(state?.Version ?? 0, decision.Events, grant.Token, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Coordinator {Node}: {Why} ({Events})", node, decision.Why, string.Join(", ", decision.Events.Select(EventTypes.NameOf)));
        }
        else if (decision.Why != _lastWhy)
        {
            _logger.LogInformation("Coordinator {Node}: {Why}", node, decision.Why);
        }
        _lastWhy = decision.Why;
        return decision.Why;
    }

    private Decision Bootstrap(IReadOnlyDictionary<string, ReceivedHeartbeat> seen, LeaseGrant grant, DateTimeOffset now)
    {
        var writable = members
            .Where(m => Fresh(seen, m.Name, now) is { PostgresRunning: true, InRecovery: false })
            .ToList();
        if (writable.Count == 0) return Decision.Wait($"cluster {cluster} has no history yet: waiting for a member to report a running primary");
        if (writable.Count > 1)
            return Decision.Wait($"cluster {cluster} has no history yet and {string.Join(" and ", writable.Select(w => w.Name))} all accept writes: refusing to bootstrap until only one does");
        var primary = seen[writable[0].Name].Heartbeat;
        var by = Initiator.Coordinator(node);
        var id = $"bootstrap-{grant.Token}";
        return new Decision($"bootstrapping cluster {cluster} with primary {primary.Node} on timeline {primary.Timeline}",
        [
            new ClusterBootstrapped(cluster, primary.Node, primary.Timeline ?? 1, primary.CurrentLsn ?? "0/0", members) { By = by, CorrelationId = id },
            new CoordinatorElected(node, grant.Token) { By = by, CorrelationId = id },
        ]);
    }

    private async Task<Decision> DecideAsync(ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, LeaseGrant grant, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await TrackPrimaryPositionAsync(state, seen, now, cancellationToken).ConfigureAwait(false);
        var by = Initiator.Coordinator(node);
        var context = new CoordinatorContext(node, grant.Token, now, settings.DirectiveTimeout, () => Guid.NewGuid().ToString("n")[..12])
        {
            // A new primary waits for nobody until its standbys are recorded again, or for anyone in strict mode.
            PromoteSynchronousStandbyNames = settings.Synchronous is { Mode: not SynchronousMode.Off, Strict: true } ? "*" : "",
        };

        // Directives nobody answered in time are no longer pending: say so before deciding on.
        var expired = state.PendingDirectives.Values.Where(d => d.ExpiresAt <= now).ToList();
        if (expired.Count > 0)
        {
            return new Decision($"{expired.Count} directive(s) expired without an answer", [.. expired.Select(d =>
            {
                var attempt = _attempts.GetValueOrDefault($"{d.Node}/{d.Kind}", 1);
                var retrying = d.Kind is DirectiveKind.Repoint or DirectiveKind.Rewind or DirectiveKind.Reinitialize or DirectiveKind.Checkpoint or DirectiveKind.ApplyConfig;
                return new DirectiveExpired(d.DirectiveId, d.Node, d.Kind, attempt, retrying,
                    $"no answer from {d.Node}'s agent by {d.ExpiresAt:HH:mm:ss.fff}" + (retrying ? "; it will be issued again when its agent is back" : "; abandoned"))
                { By = by, CorrelationId = d.DirectiveId };
            })]);
        }

        if (state.Switchover is { } switchover && state.Failover is null)
        {
            // A planned switchover demotes the primary on purpose: it is not judged lost meanwhile.
            var target = Fresh(seen, switchover.To!, now);
            var primaryBeat = seen.TryGetValue(switchover.From!, out var last) ? last.Heartbeat : null;
            var evidence = new SwitchoverEvidence(target is not null, target?.PostgresRunning ?? false, target?.InRecovery ?? false,
                Lsn.TryParse(target?.ReplayedLsn, out var replayed) ? replayed : null,
                Lsn.TryParse(primaryBeat?.CurrentLsn, out var current) ? current : null);
            return SwitchoverSteps.Next(state, evidence, settings.SwitchoverMaxLag, context);
        }

        if (state.RequestedFailover is { } request && state.Failover is null)
            return await ManualFailoverAsync(state, request, seen, now, context, by, cancellationToken).ConfigureAwait(false);

        if (state.Failover is not null || state.Primary is null || !state.Nodes.ContainsKey(state.Primary))
        {
            // Replicas lose their upstream during a failover; the failover repoints them.
            _strayUpstreamSince.Clear();
            return FailoverSteps.Next(state, Judge(state, seen, null, now), () => Choose(state, seen, now), await PrimaryLeaseHolderAsync(cancellationToken).ConfigureAwait(false), context);
        }

        var holder = await PrimaryLeaseHolderAsync(cancellationToken).ConfigureAwait(false);
        var verdict = Judge(state, seen, holder, now);
        if (verdict.Lost && state.Paused)
        {
            // Paused means paused (DESIGN §3.6): say why nothing happens, keep recording what is seen.
            var paused = FailoverSteps.Next(state, verdict, () => Choose(state, seen, now), holder, context);
            return Housekeeping(state, seen, now, context, by) is { } health ? health with { Why = $"{paused.Why}; {health.Why}" } : paused;
        }
        if (verdict.Lost)
        {
            _strayUpstreamSince.Clear();
            return FailoverSteps.Next(state, verdict, () => Choose(state, seen, now), holder, context);
        }

        // Housekeeping first; synchronous standbys are kept in step also while a rolling restart waits.
        var housekeeping = Housekeeping(state, seen, now, context, by);
        if (housekeeping is { Events.Count: > 0 }) return housekeeping;
        var synchronous = Synchronous(state, seen, now, context);
        if (synchronous is { Events.Count: > 0 }) return synchronous;
        return housekeeping ?? synchronous ?? Decision.Wait($"primary {state.Primary} is healthy");
    }

    /// <summary>
    /// An operator's failover to a named node: refused (FailoverFailed with the reason) while the primary is
    /// healthy — that is a switchover — or when the node cannot be promoted; a node that is only behind
    /// is promoted when data loss was allowed. Then the ordinary sequence runs, paused or not.
    /// </summary>
    private async Task<Decision> ManualFailoverAsync(ClusterState state, FailoverRequested request, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, DateTimeOffset now, CoordinatorContext context, Initiator by, CancellationToken cancellationToken)
    {
        Decision Refuse(string reason) => new($"manual failover {request.RequestId} refused: {reason}",
            [new FailoverFailed(request.RequestId, state.Term, reason, TimeSpan.Zero) { By = by, CorrelationId = request.RequestId }]);
        static bool OnlyBehind(string reason) => FailoverPolicy.OnlyMayLackCommits(reason);
        // Ranked after another candidate with the same LSN (priority, name): as good a choice, nothing is lost.
        static bool OnlyRanked(string reason) => reason.StartsWith("same received LSN", StringComparison.Ordinal);

        var holder = await PrimaryLeaseHolderAsync(cancellationToken).ConfigureAwait(false);
        var verdict = Judge(state, seen, holder, now);
        var primaryBeat = state.Primary is { } primary ? Fresh(seen, primary, now) : null;
        if (!verdict.Lost && primaryBeat is { PostgresRunning: true, InRecovery: false })
            return Refuse($"the primary {state.Primary} is healthy: use pgha switchover to move it");
        var choice = Choose(state, seen, now);
        var target = choice.Assessments.First(a => a.Node == request.To);
        if (target.RejectedBecause is { } why && !OnlyRanked(why) && !(request.AllowDataLoss && OnlyBehind(why)))
            return Refuse($"{request.To} cannot be promoted: {why}" + (OnlyBehind(why) ? "; add --allow-data-loss to promote it anyway" : ""));
        var assessments = choice.Assessments
            .Select(a => a.Node == request.To ? a with { RejectedBecause = null }
                : a.RejectedBecause is null ? a with { RejectedBecause = $"the operator asked for {request.To}" } : a)
            .ToList();
        var manual = new PrimaryVerdict($"manual failover to {request.To} requested by {request.By}{(request.AllowDataLoss ? " (data loss allowed)" : "")}"
            + (verdict.Lost ? $"; {verdict.Trigger}" : ""), verdict.Observations);
        return FailoverSteps.Next(state, manual, () => new CandidateChoice(request.To, assessments), holder, context, force: true);
    }

    private PrimaryVerdict Judge(ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, string? holder, DateTimeOffset now)
    {
        var primary = state.Primary;
        var own = primary is null ? null : Fresh(seen, primary, now);
        var observations = seen.Values
            .Where(r => r.Heartbeat.Node != primary && now - r.ReceivedAt <= settings.HeartbeatFreshness)
            .SelectMany(r => r.Heartbeat.Peers.Where(p => p.Peer == primary).Select(p => new PrimaryObservation(r.Heartbeat.Node, p.Reachable, p.UnreachableSince, p.Detail)))
            .ToList();

        // A primary whose agent is alive and serving takes a moment to (re)take its lease: a free lease
        // counts as expired only when its agent is silent, or after a grace of several heartbeats.
        if (holder != primary)
        {
            _leaseMissingSince ??= now;
            if (own is { PostgresRunning: true, InRecovery: false } && now - _leaseMissingSince < settings.HeartbeatFreshness + settings.HeartbeatFreshness)
                holder = primary;
        }
        else
        {
            _leaseMissingSince = null;
        }
        return FailureDetector.JudgePrimary(state, new PrimaryEvidence(own is { PostgresRunning: false } ? own.PostgresDownSince ?? now : null, holder, observations), settings.Detection, now);
    }

    /// <summary>
    /// Keeps the primary's reported WAL position in the witness store (at most once a second, when it
    /// moved), and reads the last one recorded when taking office: a coordinator that never heard the
    /// primary (its agent restarted after the primary was lost) must still know how far it had written.
    /// </summary>
    private async Task TrackPrimaryPositionAsync(ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            if (!_positionLoaded)
            {
                _recordedPosition = await log.PrimaryPositionAsync(cancellationToken).ConfigureAwait(false) is { } recorded && Lsn.TryParse(recorded.Lsn, out var at) ? (recorded.Node, at) : null;
                _positionLoaded = true;
            }
            if (state.Primary is not { } primary || Fresh(seen, primary, now) is not { PostgresRunning: true, InRecovery: false } beat || !Lsn.TryParse(beat.CurrentLsn, out var current)) return;
            if (_recordedPosition is { } last && last.Node == primary && current <= last.Lsn) return;
            if (now - _positionRecordedAt < TimeSpan.FromSeconds(1)) return;
            _positionRecordedAt = now;
            await log.RecordPrimaryPositionAsync(primary, current.ToString(), cancellationToken).ConfigureAwait(false);
            _recordedPosition = (primary, current);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogDebug("Coordinator {Node}: primary position not recorded: {Error}", node, e.GetBaseException().Message);
        }
    }

    private CandidateChoice Choose(ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, DateTimeOffset now)
    {
        var reports = seen.Values.ToDictionary(r => r.Heartbeat.Node, r => new NodeReport(
            r.Heartbeat.Node,
            r.Heartbeat.PostgresRunning ? NodeHealth.Healthy : NodeHealth.Unhealthy,
            r.Heartbeat.InRecovery,
            Lsn.TryParse(r.Heartbeat.ReceivedLsn, out var received) ? received : null,
            Lsn.TryParse(r.Heartbeat.ReplayedLsn, out var replayed) ? replayed : null,
            r.ReceivedAt), StringComparer.Ordinal);
        Lsn? primaryLastKnown = Lsn.TryParse(state.PrimaryLsn, out var logged) ? logged : null;
        if (state.Primary is { } primary && seen.TryGetValue(primary, out var last) && Lsn.TryParse(last.Heartbeat.CurrentLsn, out var reported)
            && (primaryLastKnown is null || reported > primaryLastKnown.Value))
            primaryLastKnown = reported;
        if (_recordedPosition is { } recorded && recorded.Node == state.Primary && (primaryLastKnown is null || recorded.Lsn > primaryLastKnown.Value))
            primaryLastKnown = recorded.Lsn;
        return FailoverPolicy.ChooseCandidate(state, reports, primaryLastKnown, settings.Failover, now);
    }

    private async Task<string?> PrimaryLeaseHolderAsync(CancellationToken cancellationToken) =>
        (await leases.ReadAsync(LeaseKeys.Primary(cluster), cancellationToken).ConfigureAwait(false))?.Holder;

    /// <summary>With the primary healthy: node health changes, rejoining a former primary, repointing a replica that follows nobody.</summary>
    private Decision? Housekeeping(ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, DateTimeOffset now, CoordinatorContext context, Initiator by)
    {
        var events = new List<ClusterEvent>();
        var why = new List<string>();
        if (now - _inOfficeSince > settings.HeartbeatFreshness)
        {
            foreach (var view in state.Nodes.Values)
            {
                var beat = Fresh(seen, view.Name, now);
                var (health, reason) = beat is null
                    ? (NodeHealth.Unreachable, $"no heartbeat from its agent for more than {settings.HeartbeatFreshness.TotalSeconds:0.#} s")
                    : beat.PostgresRunning ? (NodeHealth.Healthy, beat.InRecovery ? "standby running" : "primary running") : (NodeHealth.Unhealthy, beat.Detail ?? "PostgreSQL is not running");
                if (health == view.Health) continue;
                events.Add(new NodeHealthChanged(view.Name, health, reason, [beat is null ? node : view.Name]) { By = by, CorrelationId = $"health-{view.Name}-{state.Version}" });
                why.Add($"{view.Name} is {health.ToString().ToLowerInvariant()}");
            }
        }

        var primary = state.Nodes[state.Primary!];
        var primaryBeat = Fresh(seen, primary.Name, now);
        if (primaryBeat is not { PostgresRunning: true, InRecovery: false })
            return events.Count > 0 ? new Decision(string.Join("; ", why), events) : null;
        var busy = state.PendingDirectives.Values.Select(d => d.Node).ToHashSet(StringComparer.Ordinal);
        var upstream = primary.Name;
        foreach (var view in state.Nodes.Values.Where(n => n.Name != primary.Name && !busy.Contains(n.Name) && !n.Detached))
        {
            var beat = Fresh(seen, view.Name, now);
            if (beat is null) continue;
            // A node whose last directive failed gets a moment before the next one.
            if (_lastIssued.TryGetValue(view.Name, out var last) && now - last < TimeSpan.FromSeconds(10)) continue;
            if (view.ReinitializeRequested is { } asked)
            {
                _lastIssued[view.Name] = now;
                events.Add(context.Issue(view.Name, state.Term, $"reinitialize-{view.Name}-{state.Version}", new Reinitialize(upstream), settings.RejoinTimeout));
                why.Add($"reinitializing {view.Name} from {primary.Name} as requested ({asked})");
                continue;
            }
            if (view.Role == NodeRole.FormerPrimary)
            {
                _lastIssued[view.Name] = now;
                events.Add(context.Issue(view.Name, state.Term, $"rejoin-{view.Name}-{state.Term}", new Rewind(upstream), settings.RejoinTimeout));
                why.Add($"rejoining former primary {view.Name} to {primary.Name} (rewind)");
                continue;
            }
            if (view.Role != NodeRole.Replica || beat is not { PostgresRunning: true, InRecovery: true }) continue;
            // Connected to the primary but still on an older timeline: a replica that replayed past the
            // point where the primary's timeline forked connects again and again (it is served the old
            // timeline up to the fork) and never follows; only a rewind brings it back.
            if (Follows(beat, primary.Name, primaryBeat))
            {
                _strayUpstreamSince.Remove(view.Name);
                _attempts.Remove($"{view.Name}/{DirectiveKind.Repoint}");
                continue;
            }
            var since = _strayUpstreamSince.TryGetValue(view.Name, out var s) ? s : _strayUpstreamSince[view.Name] = now;
            if (now - since < TimeSpan.FromSeconds(5)) continue;
            _strayUpstreamSince[view.Name] = now;
            var key = $"{view.Name}/{DirectiveKind.Repoint}";
            var attempt = _attempts[key] = _attempts.GetValueOrDefault(key) + 1;
            // Repointing twice without streaming means the replica diverged: rewind it instead.
            var kind = attempt > 2 ? DirectiveKind.Rewind : DirectiveKind.Repoint;
            _lastIssued[view.Name] = now;
            events.Add(context.Issue(view.Name, state.Term, $"follow-{view.Name}-{state.Version}", kind == DirectiveKind.Rewind ? new Rewind(upstream) : new Repoint(upstream), kind == DirectiveKind.Rewind ? settings.RejoinTimeout : settings.DirectiveTimeout));
            why.Add(beat.Upstream == primary.Name
                ? $"{view.Name} connects to {primary.Name} but stays on timeline {beat.Timeline} ({primary.Name} is on {primaryBeat.Timeline}): {kind.ToString().ToUpperInvariant()} (attempt {attempt})"
                : $"{view.Name} streams from {beat.Upstream ?? "nobody"}, not from {primary.Name}: {kind.ToString().ToUpperInvariant()} (attempt {attempt})");
        }
        // Replication as the heartbeats show it, logged only when it changes (the routing table reads it).
        var primaryAt = Lsn.TryParse(primaryBeat.CurrentLsn, out var at) ? at : (Lsn?)null;
        var observations = state.Nodes.Values
            .Where(n => n.Name != primary.Name && n.Role == NodeRole.Replica && !n.Detached)
            .Select(n => (View: n, Beat: Fresh(seen, n.Name, now)))
            .Where(o => o.Beat is not null)
            .Select(o => new ReplicaObservation(o.View.Name, Follows(o.Beat!, primary.Name, primaryBeat),
                primaryAt is { } p && Lsn.TryParse(o.Beat!.ReplayedLsn, out var replayed) ? Lsn.BytesBehind(p, replayed) : null, o.Beat!.Upstream));
        foreach (var change in ReplicationReports.Changes(state, observations, settings.MaxReplicaLag, by))
        {
            events.Add(change);
            why.Add($"{change.Node} replication {change.Status.ToString().ToLowerInvariant()}: {change.Reason}");
        }
        if (events.Count > 0) return new Decision(string.Join("; ", why), events);
        // Parameters last: applying them and rolling restarts wait while anything above had to be done.
        var reports = state.Nodes.Keys.Select(n => (Name: n, Beat: Fresh(seen, n, now))).Where(r => r.Beat is not null)
            .ToDictionary(r => r.Name, r => new MemberReport(r.Beat!.PostgresRunning, r.Beat.InRecovery, r.Beat.Upstream), StringComparer.Ordinal);
        return ParameterRollout.Next(state, reports, context);
    }

    /// <summary>With the primary serving: keep synchronous_standby_names and the logged synchronous standbys in step.</summary>
    private Decision? Synchronous(ClusterState state, IReadOnlyDictionary<string, ReceivedHeartbeat> seen, DateTimeOffset now, CoordinatorContext context)
    {
        var primary = state.Primary!;
        if (Fresh(seen, primary, now) is not { PostgresRunning: true, InRecovery: false } primaryBeat) return null;
        var reports = state.Nodes.Keys.Where(n => n != primary).ToDictionary(n => n, n =>
        {
            var beat = Fresh(seen, n, now);
            var streaming = beat is not null && Follows(beat, primary, primaryBeat);
            // A dying primary cuts its standbys' streams before its own heartbeat says it is down: a standby
            // that streamed from this primary counts as gone only after failure_timeout, or the failover
            // would find nobody recorded. Only what it flushed while streaming from this primary counts.
            var key = primary + "/" + n;
            if (streaming)
            {
                _notStreamingSince.Remove(key);
                _everStreamed.Add(key);
                return new StandbyReport(n, true, Lsn.TryParse(beat!.ReceivedLsn, out var flushed) ? flushed : null);
            }
            var since = _notStreamingSince.TryGetValue(key, out var stopped) ? stopped : _notStreamingSince[key] = now;
            return new StandbyReport(n, _everStreamed.Contains(key) && now - since < settings.Detection.FailureTimeout, null);
        }, StringComparer.Ordinal);
        var decision = SynchronousSteps.Next(state, settings.Synchronous, reports, context);
        if (decision is null || !decision.Events.Any(e => e is DirectiveIssued)) return decision;
        // A failing APPLY_CONFIG is not sent again at every tick.
        if (now - _synchronousIssuedAt < TimeSpan.FromSeconds(1)) return null;
        _synchronousIssuedAt = now;
        return decision;
    }

    /// <summary>A standby streaming from <paramref name="primary"/> on its timeline (connected but on an older one, it cannot follow: see Housekeeping).</summary>
    private static bool Follows(Heartbeat beat, string primary, Heartbeat primaryBeat) =>
        beat is { PostgresRunning: true, InRecovery: true } && beat.Upstream == primary && !(beat.Timeline < primaryBeat.Timeline);

    private Heartbeat? Fresh(IReadOnlyDictionary<string, ReceivedHeartbeat> seen, string name, DateTimeOffset now) =>
        seen.TryGetValue(name, out var received) && now - received.ReceivedAt <= settings.HeartbeatFreshness ? received.Heartbeat : null;
}
