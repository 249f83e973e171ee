using System.Text;

namespace HA.Core.Events;

/// <summary>
/// The stable names of every event type ("node_joined"), used in the store, in exports and in
/// filters. A name never changes once events carry it.
/// </summary>
public static class EventTypes
{
    public static readonly IReadOnlyList<Type> All =
    [
        typeof(ClusterBootstrapped), typeof(NodeJoined), typeof(NodeLeft), typeof(NodeDetached), typeof(NodeAttached), typeof(ReinitializeRequested),
        typeof(NodeHealthChanged), typeof(ReplicationStateChanged), typeof(CoordinatorElected),
        typeof(FailoverPaused), typeof(FailoverResumed), typeof(PostgresParametersChanged), typeof(SynchronousStandbysChanged), typeof(SynchronousStandbysApplied),
        typeof(FailoverRequested), typeof(FailoverStarted), typeof(FailoverCompleted), typeof(FailoverFailed), typeof(NodeFenced), typeof(PrimaryChanged),
        typeof(NodeRejoined), typeof(SwitchoverRequested), typeof(SwitchoverCompleted), typeof(SwitchoverFailed),
        typeof(DirectiveIssued), typeof(DirectiveSucceeded), typeof(DirectiveFailed), typeof(DirectiveExpired),
        typeof(ParametersApplied), typeof(RollingRestartRequested), typeof(RollingRestartCompleted), typeof(RollingRestartFailed),
    ];

    private static readonly Dictionary<string, Type> ByName = All.ToDictionary(NameOf, t => t, StringComparer.Ordinal);

    /// <summary>snake_case of the type's name: NodeJoined → node_joined.</summary>
    public static string NameOf(Type type)
    {
        var name = new StringBuilder();
        foreach (var c in type.Name)
        {
            if (char.IsUpper(c) && name.Length > 0) name.Append('_');
            name.Append(char.ToLowerInvariant(c));
        }
        return name.ToString();
    }

    public static string NameOf(ClusterEvent e) => NameOf(e.GetType());

    public static Type? TypeOf(string name) => ByName.GetValueOrDefault(name);

    public static IEnumerable<string> Names => ByName.Keys;

    /// <summary>Every node an event concerns: the one it is about, and those a failover or bootstrap names.</summary>
    public static IReadOnlyList<string> NodesOf(ClusterEvent e)
    {
        IEnumerable<string?> nodes = e switch
        {
            ClusterBootstrapped b => b.Members.Select(m => m.Name),
            FailoverStarted f => f.Candidates.Select(c => c.Node).Append(f.OldPrimary).Append(f.Candidate),
            FailoverCompleted c => [c.NewPrimary],
            PrimaryChanged p => [p.Node, p.Previous],
            SwitchoverRequested s => [s.From, s.To],
            SwitchoverCompleted s => [s.From, s.To],
            SynchronousStandbysChanged s => s.Standbys,
            RollingRestartCompleted r => r.Restarted,
            INodeEvent n => [n.Node],
            _ => [],
        };
        return nodes.OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }
}
