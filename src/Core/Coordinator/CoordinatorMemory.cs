using System.Collections.Immutable;

namespace HA.Core.Coordinator;

/// <summary>
/// What a coordinator remembers between rounds and the log does not hold: timers and back-offs only.
/// None of it is needed to resume a failover or a switchover (that is in the log): a successor starts
/// with <see cref="Empty"/> and at worst waits a little longer before a repoint, a rewind or a health change.
/// Immutable: <see cref="CoordinatorPolicy.Decide"/> returns the next one.
/// </summary>
public sealed record CoordinatorMemory
{
    // Declared before Empty: static initializers run in order.
    private static readonly ImmutableDictionary<string, DateTimeOffset> NoTimes = ImmutableDictionary.Create<string, DateTimeOffset>(StringComparer.Ordinal);

    public static CoordinatorMemory Empty { get; } = new();

    /// <summary>When this coordinator took office: node health is judged only once every agent had time to be heard.</summary>
    public DateTimeOffset? InOfficeSince { get; init; }

    /// <summary>Since when the primary lease has not been held by the primary (its grace: 2 × heartbeat freshness while the primary's heartbeat says it serves).</summary>
    public DateTimeOffset? LeaseMissingSince { get; init; }

    /// <summary>Per replica: since when it has not been following the primary (repointed after 5 s).</summary>
    public ImmutableDictionary<string, DateTimeOffset> StrayUpstreamSince { get; init; } = NoTimes;

    /// <summary>Per replica: REPOINTs issued in a row without it following (the third attempt is a REWIND).</summary>
    public ImmutableDictionary<string, int> RepointAttempts { get; init; } = ImmutableDictionary.Create<string, int>(StringComparer.Ordinal);

    /// <summary>Per node: when housekeeping last issued it a directive (the next waits 10 s).</summary>
    public ImmutableDictionary<string, DateTimeOffset> LastIssued { get; init; } = NoTimes;

    /// <summary>When synchronous_standby_names was last sent to the primary (a failing APPLY_CONFIG is sent again after 1 s, not every tick).</summary>
    public DateTimeOffset? SynchronousIssuedAt { get; init; }

    /// <summary>Per "primary/standby": since when the standby has not been streaming from that primary.</summary>
    public ImmutableDictionary<string, DateTimeOffset> NotStreamingSince { get; init; } = NoTimes;

    /// <summary>"primary/standby" pairs that have streamed: such a standby still counts for failure_timeout after its stream stops.</summary>
    public ImmutableHashSet<string> EverStreamed { get; init; } = ImmutableHashSet.Create<string>(StringComparer.Ordinal);
}
