using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>A request names a node the cluster does not have; nothing was recorded (the API answers 404).</summary>
public sealed class UnknownNodeError(string cluster, string node, IEnumerable<string> members)
    : OperatorError($"unknown node '{node}' in cluster {cluster} (members: {string.Join(", ", members)})")
{
    public string Node { get; } = node;
}

/// <summary>A request whose content PostgreSQL or pgha would refuse (a parameter, a value); nothing was recorded (the API answers 422).</summary>
public sealed class InvalidRequestError(string message) : OperatorError(message);

/// <summary>
/// The operator's requests about the whole cluster or one node — pause, resume, detach, attach,
/// reinitialize —, whoever asks (the API's endpoints; the CLI reaches them over HTTP): the event is
/// built here, checked against the cluster's state (<see cref="ClusterState.Check"/>) and recorded, or
/// refused with the reason and nothing recorded.
/// </summary>
public static class OperatorRequests
{
    public static readonly string[] Verbs = ["pause", "resume", "detach", "attach", "reinitialize"];

    /// <summary>The event <paramref name="verb"/> records; <paramref name="node"/> for detach, attach and reinitialize.</summary>
    public static ClusterEvent Event(string verb, string? node, string? reason, Initiator by)
    {
        var why = string.IsNullOrWhiteSpace(reason) ? $"{verb} by an operator" : reason;
        var correlation = $"{verb}-{Guid.NewGuid():n}"[..18];
        string Node() => node ?? throw new ArgumentNullException(nameof(node), $"{verb} needs a node");
        return verb switch
        {
            "pause" => new FailoverPaused(why) { By = by, CorrelationId = correlation },
            "resume" => new FailoverResumed(why) { By = by, CorrelationId = correlation },
            "detach" => new NodeDetached(Node(), why) { By = by, CorrelationId = correlation },
            "attach" => new NodeAttached(Node()) { By = by, CorrelationId = correlation },
            "reinitialize" => new ReinitializeRequested(Node(), why) { By = by, CorrelationId = correlation },
            _ => throw new ArgumentOutOfRangeException(nameof(verb), verb, "not an operator request"),
        };
    }

    /// <summary>Records <paramref name="change"/> once checked; an unknown node is <see cref="UnknownNodeError"/>, any other refusal <see cref="EventRejectedError"/>.</summary>
    public static async Task<ClusterState> RecordAsync(WitnessStore witness, string cluster, ClusterEvent change, CancellationToken cancellationToken)
    {
        if (change is INodeEvent about) await RequireNodeAsync(witness, cluster, about.Node, cancellationToken).ConfigureAwait(false);
        return await witness.AppendCheckedAsync(cluster, change, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cluster's state, refused with <see cref="UnknownNodeError"/> when it has no member <paramref name="node"/>.</summary>
    public static async Task<ClusterState> RequireNodeAsync(WitnessStore witness, string cluster, string node, CancellationToken cancellationToken)
    {
        var state = await witness.StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        return state.Nodes.ContainsKey(node) ? state : throw new UnknownNodeError(cluster, node, state.Nodes.Keys);
    }

    /// <summary>The line that says what was recorded (the API's <c>message</c>, printed by the CLI).</summary>
    public static string Describe(ClusterEvent change, ClusterState state) => change switch
    {
        FailoverPaused p => $"cluster {state.Cluster}: automatic failover paused at version {state.Version} ({p.Reason})",
        FailoverResumed r => $"cluster {state.Cluster}: automatic failover resumed at version {state.Version} ({r.Reason})",
        NodeDetached d => $"cluster {state.Cluster}: {d.Node} detached at version {state.Version} ({d.Reason}): out of routing and candidacy; its agent leaves PostgreSQL alone",
        ReinitializeRequested r => $"cluster {state.Cluster}: reinitialize of {r.Node} requested at version {state.Version} ({r.Reason}); the coordinator takes a new base backup from {state.Primary} (watch for node_rejoined)",
        NodeAttached a => $"cluster {state.Cluster}: {a.Node} attached at version {state.Version}",
        _ => $"cluster {state.Cluster}: {change.GetType().Name} recorded at version {state.Version}",
    };
}
