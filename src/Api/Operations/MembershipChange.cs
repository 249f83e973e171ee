using HA.Core.Events;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// Removing and adding members, whoever asks (<c>DELETE</c> and <c>POST /api/v1/members</c>; the CLI's
/// <c>pgha member remove|add</c> reaches them over HTTP): one event each, checked against the cluster's
/// state, or refused with the reason and nothing recorded. Adding goes through
/// <see cref="HA.Api.Run.ClusterMembership.RecordJoinAsync"/>, the path a node's own agent joins by.
/// </summary>
public static class MembershipChange
{
    public const string DefaultRemoveReason = "removed by an operator";

    /// <summary>
    /// Records NodeLeft for <paramref name="node"/>: an unknown node is <see cref="UnknownNodeError"/>; the
    /// last replica that could take over, unless <paramref name="force"/>, the primary and a node taking
    /// part in a failover or switchover are <see cref="EventRejectedError"/>.
    /// </summary>
    public static async Task<(NodeLeft Left, ClusterState State)> RemoveAsync(WitnessStore witness, string cluster, string node, string? reason, bool force, Initiator by, CancellationToken cancellationToken)
    {
        var state = await OperatorRequests.RequireNodeAsync(witness, cluster, node, cancellationToken).ConfigureAwait(false);
        if (!force && LastCandidateProblem(state, node) is { } last) throw new EventRejectedError(cluster, nameof(NodeLeft), last);
        var left = new NodeLeft(node, string.IsNullOrWhiteSpace(reason) ? DefaultRemoveReason : reason) { By = by, CorrelationId = $"remove-{node}-{Guid.NewGuid():n}"[..24] };
        return (left, await witness.AppendCheckedAsync(cluster, left, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>What a removal did, for people (the API's <c>message</c>).</summary>
    public static string DescribeRemoval(NodeLeft left, ClusterState after) =>
        $"cluster {after.Cluster}: {left.Node} removed at version {after.Version} ({left.Reason}): its agent stops its PostgreSQL and exits; " +
        $"the primary {after.Primary ?? "(none now)"} drops its replication slot; members now {string.Join(", ", after.Nodes.Keys)}";

    /// <summary>What an add did (or that there was nothing to do), for people (the API's <c>message</c>).</summary>
    public static string DescribeAdd(NodeSpec spec, bool joined, ClusterState state) => joined
        ? $"cluster {state.Cluster}: {spec.Name} joined at version {state.Version} ({spec.Host}:{spec.Port}); start its agent (pgha run): " +
          $"with an empty node.data_dir it takes a base backup from the primary {state.Primary ?? "once there is one"}"
        : $"cluster {state.Cluster}: {spec.Name} is already a member ({spec.Host}:{spec.Port}); nothing recorded; start its agent (pgha run)";

    /// <summary>
    /// Removing the last replica that could be promoted leaves the primary without a successor: refused
    /// unless forced (an operator shrinking a cluster to one node means it). A node that cannot be
    /// promoted anyway (nofailover) may always go; so may the primary's check be left to the log (refused there).
    /// </summary>
    public static string? LastCandidateProblem(ClusterState state, string node)
    {
        if (!state.Nodes.TryGetValue(node, out var leaving) || node == state.Primary || state.Primary is null || leaving.NoFailover) return null;
        var others = state.Nodes.Values.Where(n => n.Name != node && n.Name != state.Primary).ToList();
        if (others.Any(n => !n.NoFailover)) return null;
        return $"{node} is the last replica that could take over from the primary {state.Primary}" +
            (others.Count > 0 ? $" ({string.Join(", ", others.Select(n => n.Name))} {(others.Count == 1 ? "has" : "have")} nofailover)" : "") +
            $": without it cluster {state.Cluster} has no automatic failover; add --force to remove it anyway";
    }
}
