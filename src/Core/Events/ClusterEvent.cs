namespace HA.Core.Events;

/// <summary>Who or what caused an event: an operator through the API, the coordinator, a node's agent, or pgha itself.</summary>
public enum InitiatorKind
{
    User,
    Coordinator,
    Agent,
    System,
}

/// <summary>The initiator of an event, by kind and name ("user alice", "coordinator n1", "agent n2").</summary>
public sealed record Initiator(InitiatorKind Kind, string Name)
{
    public static Initiator User(string name) => new(InitiatorKind.User, name);
    public static Initiator Coordinator(string node) => new(InitiatorKind.Coordinator, node);
    public static Initiator Agent(string node) => new(InitiatorKind.Agent, node);
    public static readonly Initiator System = new(InitiatorKind.System, "pgha");

    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()} {Name}";
}

/// <summary>
/// Every cluster transition. Each event says who initiated it and which operation it belongs to
/// (<see cref="CorrelationId"/>: all events of one failover, switchover or command share it).
/// Events are immutable; the witness store stamps each with its stream version and the database time.
/// </summary>
public abstract record ClusterEvent
{
    public required Initiator By { get; init; }

    public required string CorrelationId { get; init; }
}

/// <summary>An event that belongs to a term: it is refused when its term is older than the cluster's current one.</summary>
public interface ITermEvent
{
    long Term { get; }
}

/// <summary>An event about one node: it is refused when that node is not a member of the cluster.</summary>
public interface INodeEvent
{
    string Node { get; }
}
