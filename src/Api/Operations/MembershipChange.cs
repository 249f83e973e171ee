using HA.Api.Run;
using HA.Core.Events;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// Removing and adding members, whoever asks (<c>DELETE</c> and <c>POST /api/v1/members</c>; the CLI's
/// <c>pgha member remove|add</c> reaches them over HTTP): one event each, checked against the cluster's
/// state, or refused with the reason and nothing recorded.
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
        if (!force && MemberCommand.LastCandidateProblem(state, node) is { } last) throw new EventRejectedError(cluster, nameof(NodeLeft), last);
        var left = new NodeLeft(node, string.IsNullOrWhiteSpace(reason) ? DefaultRemoveReason : reason) { By = by, CorrelationId = $"remove-{node}-{Guid.NewGuid():n}"[..24] };
        return (left, await witness.AppendCheckedAsync(cluster, left, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>What a removal did, for people (the API's <c>message</c>).</summary>
    public static string DescribeRemoval(NodeLeft left, ClusterState after) =>
        $"cluster {after.Cluster}: {left.Node} removed at version {after.Version} ({left.Reason}): its agent stops its PostgreSQL and exits; " +
        $"the primary {after.Primary ?? "(none now)"} drops its replication slot; members now {string.Join(", ", after.Nodes.Keys)}";

    /// <summary>Records NodeJoined for <paramref name="spec"/> (see <see cref="ClusterMembership.RecordJoinAsync"/>): Joined false when it is a member at that address already.</summary>
    public static Task<(bool Joined, ClusterState State)> AddAsync(WitnessStore witness, string cluster, NodeSpec spec, Initiator by, CancellationToken cancellationToken) =>
        ClusterMembership.RecordJoinAsync(witness, cluster, spec, by, cancellationToken);

    /// <summary>What an add did (or that there was nothing to do), for people (the API's <c>message</c>).</summary>
    public static string DescribeAdd(NodeSpec spec, bool joined, ClusterState state) => joined
        ? $"cluster {state.Cluster}: {spec.Name} joined at version {state.Version} ({spec.Host}:{spec.Port}); start its agent (pgha run): " +
          $"with an empty node.data_dir it takes a base backup from the primary {state.Primary ?? "once there is one"}"
        : $"cluster {state.Cluster}: {spec.Name} is already a member ({spec.Host}:{spec.Port}); nothing recorded; start its agent (pgha run)";
}
