using System.Globalization;
using System.Text.Json;
using JasperFx.Events;
using Marten.Events.Aggregation;

namespace HA.Projections;

/// <summary>
/// Where a cluster's stream stands: its version and the time of its last event. Marten projects it
/// inline, in each append's transaction; it exists so that appends can go through Marten's
/// <c>FetchForExclusiveWriting</c>, which locks the stream and reads its version. (The cluster state
/// itself cannot be that aggregate: Marten takes its <c>Apply(ClusterEvent, EventStamp)</c> for a
/// conventional method, and pgha checks every event against the state before appending it anyway.)
/// </summary>
public sealed class StreamHead
{
    /// <summary>The stream key, <c>cluster/&lt;name&gt;</c>.</summary>
    public string Id { get; set; } = "";
    public long Version { get; set; }
    public DateTimeOffset At { get; set; }
}

/// <summary>Projects <see cref="StreamHead"/>: the last event's version and time.</summary>
public sealed class StreamHeadProjection : SingleStreamProjection<StreamHead, string>
{
    public override StreamHead? Evolve(StreamHead? snapshot, string id, IEvent e)
    {
        var head = snapshot ?? new StreamHead { Id = id };
        head.Version = e.Version;
        head.At = e.Timestamp;
        return head;
    }
}

/// <summary>Event metadata pgha keeps in Marten's headers.</summary>
public static class EventHeaders
{
    /// <summary>The fencing token an event was appended with, or null.</summary>
    public static long? FencingToken(IEvent e) =>
        e.Headers is { } headers && headers.TryGetValue(WitnessStore.FencingTokenHeader, out var value) ? value switch
        {
            null => null,
            long l => l,
            int i => i,
            JsonElement { ValueKind: JsonValueKind.Number } n => n.GetInt64(),
            JsonElement { ValueKind: JsonValueKind.String } s => long.Parse(s.GetString()!, CultureInfo.InvariantCulture),
            _ => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        } : null;
}
