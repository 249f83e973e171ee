using HA.Core.Events;
using HA.Core.State;

namespace HA.Agent.Coordinator;

/// <summary>
/// The cluster's event log as the coordinator uses it (the witness store in production). Appending
/// is the only way anything changes; the <see cref="DirectiveIssued"/> events of an append are
/// delivered to their agents if and only if the append commits.
/// </summary>
public interface IClusterLog
{
    /// <summary>The projected state, or null when the cluster has no history yet.</summary>
    Task<ClusterState?> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Appends at <paramref name="expectedVersion"/> with the appender's fencing token; throws when refused or when the stream moved on.</summary>
    Task<ClusterState> AppendAsync(long expectedVersion, IReadOnlyList<ClusterEvent> events, long? fencingToken, CancellationToken cancellationToken);

    /// <summary>Keeps the primary's last reported WAL position where the next coordinator finds it (not an event).</summary>
    Task RecordPrimaryPositionAsync(string node, string lsn, CancellationToken cancellationToken);

    /// <summary>The primary's last recorded WAL position, or null.</summary>
    Task<(string Node, string Lsn)?> PrimaryPositionAsync(CancellationToken cancellationToken);
}

/// <summary>The log moved on since the state the decision was based on: read it again and decide again.</summary>
public sealed class ClusterLogMovedOn(string message, Exception inner) : Exception(message, inner);
