using HA.Core.Errors;

namespace HA.Projections;

/// <summary>Another appender got there first: the stream is not at the expected version. Nothing was appended.</summary>
public sealed class WitnessConcurrencyException(string cluster, long expected, long actual)
    : Exception($"cluster {cluster} is at version {actual}, not at the expected version {expected}: another appender won the race; reload the state and decide again")
{
    public string Cluster { get; } = cluster;
    public long ExpectedVersion { get; } = expected;
    public long ActualVersion { get; } = actual;
}

/// <summary>An event that may not be appended (unknown node, older term, stale token). Nothing was appended.</summary>
public sealed class EventRejectedError(string cluster, string eventType, string reason)
    : OperatorError($"cluster {cluster}: {eventType} refused: {reason}")
{
    public string Reason { get; } = reason;
}

/// <summary>A cluster the witness store has no history for.</summary>
public sealed class UnknownClusterError(string cluster, IReadOnlyCollection<string> known)
    : OperatorError($"unknown cluster '{cluster}'" + (known.Count == 0 ? ": the witness store holds no cluster yet" : $" (the witness store holds: {string.Join(", ", known)})"));

/// <summary>A point in history the cluster does not have (before it existed, after its last event).</summary>
public sealed class HistoryRangeError(string message) : OperatorError(message);
