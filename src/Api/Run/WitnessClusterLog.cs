using HA.Agent.Coordinator;
using HA.Core.Events;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Run;

/// <summary>The coordinator's view of the witness store; directives appended are sent through <see cref="DirectiveOutbox"/> in the same transaction.</summary>
public sealed class WitnessClusterLog(WitnessStore witness, string cluster, DirectiveOutbox outbox) : IClusterLog
{
    public async Task<ClusterState?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await witness.StateAsync(cluster, cancellationToken);
        }
        catch (UnknownClusterError)
        {
            return null;
        }
    }

    public async Task<ClusterState> AppendAsync(long expectedVersion, IReadOnlyList<ClusterEvent> events, long? fencingToken, CancellationToken cancellationToken)
    {
        try
        {
            return await witness.AppendAsync(cluster, expectedVersion, events, fencingToken, cancellationToken,
                events.OfType<DirectiveIssued>().Any() ? outbox.Participant(cluster) : null);
        }
        catch (WitnessConcurrencyException e)
        {
            throw new ClusterLogMovedOn(e.Message, e);
        }
    }

    public Task RecordPrimaryPositionAsync(string node, string lsn, CancellationToken cancellationToken) =>
        witness.RecordPrimaryPositionAsync(cluster, node, lsn, DateTimeOffset.UtcNow, cancellationToken);

    public async Task<(string Node, string Lsn)?> PrimaryPositionAsync(CancellationToken cancellationToken) =>
        await witness.PrimaryPositionAsync(cluster, cancellationToken) is { } position ? (position.Node, position.Lsn) : null;
}
