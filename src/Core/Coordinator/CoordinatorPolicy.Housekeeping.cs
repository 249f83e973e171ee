using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;

namespace HA.Core.Coordinator;

public static partial class CoordinatorPolicy
{
    private sealed partial class Round
    {
        /// <summary>
        /// With the primary in place: node health changes; with it serving also a former primary rejoined
        /// (REWIND), REINITIALIZE as requested, replicas that do not follow it repointed (then rewound), and
        /// replication changes. Null when there is nothing to append.
        /// </summary>
        private Decision? Housekeeping(ClusterState state, CoordinatorContext context)
        {
            var events = new List<ClusterEvent>();
            var why = new List<string>();
            // A coordinator just in office has not heard every agent yet: it judges health once it could have.
            if (Now - Memory.InOfficeSince > _settings.HeartbeatFreshness)
            {
                foreach (var view in state.Nodes.Values)
                {
                    var beat = evidence.Fresh(view.Name);
                    var (health, reason) = beat is null
                        ? (NodeHealth.Unreachable, $"no heartbeat from its agent for more than {_settings.HeartbeatFreshness.TotalSeconds:0.#} s")
                        : beat.PostgresRunning ? (NodeHealth.Healthy, beat.InRecovery ? "standby running" : "primary running") : (NodeHealth.Unhealthy, beat.Detail ?? "PostgreSQL is not running");
                    if (health == view.Health) continue;
                    events.Add(new NodeHealthChanged(view.Name, health, reason, [beat is null ? evidence.Node : view.Name]) { By = _by, CorrelationId = $"health-{view.Name}-{state.Version}" });
                    why.Add($"{view.Name} is {health.ToString().ToLowerInvariant()}");
                }
            }

            var primary = state.Nodes[state.Primary!];
            var primaryBeat = evidence.Fresh(primary.Name);
            if (primaryBeat is not { PostgresRunning: true, InRecovery: false })
                return events.Count > 0 ? new Decision(string.Join("; ", why), events) : null;
            var busy = state.PendingDirectives.Values.Select(d => d.Node).ToHashSet(StringComparer.Ordinal);
            var upstream = primary.Name;
            foreach (var view in state.Nodes.Values.Where(n => n.Name != primary.Name && !busy.Contains(n.Name) && !n.Detached))
            {
                var beat = evidence.Fresh(view.Name);
                if (beat is null) continue;
                // A node whose last directive failed gets a moment before the next one.
                if (Memory.LastIssued.TryGetValue(view.Name, out var last) && Now - last < DirectiveBackoff) continue;
                if (view.ReinitializeRequested is { } asked)
                {
                    Issued(view.Name);
                    events.Add(context.Issue(view.Name, state.Term, $"reinitialize-{view.Name}-{state.Version}", new Reinitialize(upstream), _settings.RejoinTimeout));
                    why.Add($"reinitializing {view.Name} from {primary.Name} as requested ({asked})");
                    continue;
                }
                if (view.Role == NodeRole.FormerPrimary)
                {
                    Issued(view.Name);
                    events.Add(context.Issue(view.Name, state.Term, $"rejoin-{view.Name}-{state.Term}", new Rewind(upstream), _settings.RejoinTimeout));
                    why.Add($"rejoining former primary {view.Name} to {primary.Name} (rewind)");
                    continue;
                }
                if (view.Role != NodeRole.Replica || beat is not { PostgresRunning: true, InRecovery: true }) continue;
                // Connected to the primary but still on an older timeline: a replica that replayed past the
                // point where the primary's timeline forked connects again and again (it is served the old
                // timeline up to the fork) and never follows; only a rewind brings it back.
                if (Follows(beat, primary.Name, primaryBeat))
                {
                    Memory = Memory with { StrayUpstreamSince = Memory.StrayUpstreamSince.Remove(view.Name), RepointAttempts = Memory.RepointAttempts.Remove(view.Name) };
                    continue;
                }
                if (!Memory.StrayUpstreamSince.TryGetValue(view.Name, out var since))
                    Memory = Memory with { StrayUpstreamSince = Memory.StrayUpstreamSince.SetItem(view.Name, since = Now) };
                if (Now - since < StrayGrace) continue;
                var attempt = Memory.RepointAttempts.GetValueOrDefault(view.Name) + 1;
                Memory = Memory with { StrayUpstreamSince = Memory.StrayUpstreamSince.SetItem(view.Name, Now), RepointAttempts = Memory.RepointAttempts.SetItem(view.Name, attempt) };
                // Repointing twice without streaming means the replica diverged: rewind it instead.
                var kind = attempt > RepointsBeforeRewind ? DirectiveKind.Rewind : DirectiveKind.Repoint;
                Issued(view.Name);
                events.Add(kind == DirectiveKind.Rewind
                    ? context.Issue(view.Name, state.Term, $"follow-{view.Name}-{state.Version}", new Rewind(upstream), _settings.RejoinTimeout)
                    : context.Issue(view.Name, state.Term, $"follow-{view.Name}-{state.Version}", new Repoint(upstream)));
                why.Add(beat.Upstream == primary.Name
                    ? $"{view.Name} connects to {primary.Name} but stays on timeline {beat.Timeline} ({primary.Name} is on {primaryBeat.Timeline}): {kind.ToString().ToUpperInvariant()} (attempt {attempt})"
                    : $"{view.Name} streams from {beat.Upstream ?? "nobody"}, not from {primary.Name}: {kind.ToString().ToUpperInvariant()} (attempt {attempt})");
            }

            // Replication as the heartbeats show it, logged only when it changes (the routing table reads it).
            var primaryAt = primaryBeat.CurrentLsn;
            var observations = state.Nodes.Values
                .Where(n => n.Name != primary.Name && n.Role == NodeRole.Replica && !n.Detached)
                .Select(n => (View: n, Beat: evidence.Fresh(n.Name)))
                .Where(o => o.Beat is not null)
                .Select(o => new ReplicaObservation(o.View.Name, Follows(o.Beat!, primary.Name, primaryBeat),
                    primaryAt is { } p && o.Beat!.ReplayedLsn is { } replayed ? Lsn.BytesBehind(p, replayed) : null, o.Beat!.Upstream));
            foreach (var change in ReplicationReports.Changes(state, observations, _settings.MaxReplicaLag, _by))
            {
                events.Add(change);
                why.Add($"{change.Node} replication {change.Status.ToString().ToLowerInvariant()}: {change.Reason}");
            }
            return events.Count > 0 ? new Decision(string.Join("; ", why), events) : null;
        }

        private void Issued(string node) => Memory = Memory with { LastIssued = Memory.LastIssued.SetItem(node, Now) };
    }
}
