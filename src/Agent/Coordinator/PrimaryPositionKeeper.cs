using HA.Core.Coordinator;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Coordinator;

/// <summary>
/// Evidence upkeep, not a decision: keeps the primary's reported WAL position in the witness store (at
/// most once a second, when it moved) and reads the last one recorded when taking office, so a coordinator
/// that never heard the primary (its agent restarted after the primary was lost) still knows how far it
/// had written. The position stays a document beside the log, read as evidence like a lease.
/// </summary>
internal sealed class PrimaryPositionKeeper(IClusterLog log, string node, ILogger logger)
{
    private static readonly TimeSpan RecordEvery = TimeSpan.FromSeconds(1);
    private RecordedPrimaryPosition? _recorded;
    private bool _loaded;
    private DateTimeOffset _recordedAt;

    /// <summary>Records <paramref name="primaryBeat"/>'s position when it moved, and returns the last position recorded.</summary>
    public async Task<RecordedPrimaryPosition?> TrackAsync(ClusterState state, HeartbeatReport? primaryBeat, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            if (!_loaded)
            {
                _recorded = await log.PrimaryPositionAsync(cancellationToken).ConfigureAwait(false) is { } stored && Lsn.TryParse(stored.Lsn, out var at) ? new(stored.Node, at) : null;
                _loaded = true;
            }
            if (state.Primary is not { } primary || primaryBeat is not { PostgresRunning: true, InRecovery: false, CurrentLsn: { } current }) return _recorded;
            if (_recorded is { } last && last.Node == primary && current <= last.Lsn) return _recorded;
            if (now - _recordedAt < RecordEvery) return _recorded;
            _recordedAt = now;
            await log.RecordPrimaryPositionAsync(primary, current.ToString(), cancellationToken).ConfigureAwait(false);
            _recorded = new(primary, current);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogDebug("Coordinator {Node}: primary position not recorded: {Error}", node, e.GetBaseException().Message);
        }
        return _recorded;
    }
}
