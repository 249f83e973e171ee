using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.History;

/// <summary>An event as the witness store holds it: its place in the stream, the database time, the appender's token.</summary>
public sealed record RecordedEvent(string Cluster, long Version, long Sequence, DateTimeOffset At, long? FencingToken, ClusterEvent Event)
{
    public string Type => EventTypes.NameOf(Event);

    public EventStamp Stamp => new(Version, At, FencingToken);
}
