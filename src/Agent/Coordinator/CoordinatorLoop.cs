using HA.Agent.Gossip;
using HA.Core.Coordinator;
using HA.Core.Events;
using HA.Core.Leases;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Coordinator;

/// <summary>
/// The coordinator's loop (DESIGN §5), run by the coordinator-lease holder for as long as it holds the
/// lease: read the log, gather the evidence (gossiped heartbeats, the primary lease, the primary's recorded
/// position), ask <see cref="CoordinatorPolicy.Decide"/> and append what it decided, fenced by the lease's
/// token, keeping the policy's memory between rounds. It decides nothing itself.
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
    private readonly PrimaryPositionKeeper _position = new(log, node, logger ?? NullLogger.Instance);
    private CoordinatorMemory _memory = CoordinatorMemory.Empty;
    private string? _lastWhy;

    /// <summary>Decides until <paramref name="office"/> is cancelled (the lease was lost or the agent stops).</summary>
    public async Task RunAsync(LeaseGrant grant, CancellationToken office)
    {
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
        var seen = heartbeats().ToDictionary(h => h.Key, h => Report(h.Value), StringComparer.Ordinal);
        RecordedPrimaryPosition? position = null;
        string? holder = null;
        if (state is not null && state.Coordinator == node && state.CoordinatorToken == grant.Token)
        {
            // In office: the primary's recorded position and the primary lease are evidence like the heartbeats.
            var primaryBeat = state.Primary is { } primary && seen.TryGetValue(primary, out var beat) && now - beat.ReceivedAt <= settings.HeartbeatFreshness ? beat : null;
            position = await _position.TrackAsync(state, primaryBeat, now, cancellationToken).ConfigureAwait(false);
            holder = (await leases.ReadAsync(LeaseKeys.Primary(cluster), cancellationToken).ConfigureAwait(false))?.Holder;
        }
        var evidence = new CoordinatorEvidence(cluster, node, grant.Token, members, seen, holder, position, now, settings, () => Guid.NewGuid().ToString("n")[..12]);
        (var decision, _memory) = CoordinatorPolicy.Decide(state, evidence, _memory);

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

    /// <summary>A gossiped heartbeat as the policy reads it.</summary>
    private static HeartbeatReport Report(ReceivedHeartbeat received)
    {
        var beat = received.Heartbeat;
        return new HeartbeatReport(beat.Node, received.ReceivedAt)
        {
            PostgresRunning = beat.PostgresRunning,
            PostgresDownSince = beat.PostgresDownSince,
            InRecovery = beat.InRecovery,
            Timeline = beat.Timeline,
            CurrentLsn = Lsn.TryParse(beat.CurrentLsn, out var current) ? current : null,
            ReceivedLsn = Lsn.TryParse(beat.ReceivedLsn, out var flushed) ? flushed : null,
            ReplayedLsn = Lsn.TryParse(beat.ReplayedLsn, out var replayed) ? replayed : null,
            Upstream = beat.Upstream,
            Detail = beat.Detail,
            Peers = [.. beat.Peers.Select(p => new PeerReport(p.Peer, p.Reachable, p.UnreachableSince, p.Detail))],
        };
    }
}
