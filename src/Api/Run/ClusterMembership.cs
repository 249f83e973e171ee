using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Run;

/// <summary>
/// How a <c>pgha run</c> node becomes a member of a cluster whose log exists, and learns that it was
/// removed. A node the log does not name joins by itself (NodeJoined, checked like every event) unless
/// it was removed earlier: that needs an operator (<c>pgha member add</c>, <c>POST /api/v1/members</c>). Its data directory must be
/// empty (a base backup from the primary follows) or a standby's.
/// </summary>
public static class ClusterMembership
{
    /// <summary>The node's PostgreSQL data directory (<c>&lt;node.data_dir&gt;/data</c>).</summary>
    public static string PostgresDataDirectory(PghaConfig config) => Path.Combine(Path.GetFullPath(config.DataDirectory), "data");

    /// <summary>Refuses a data directory pgha must not touch: not empty and not a PostgreSQL data directory.</summary>
    public static void CheckDataDirectory(PghaConfig config)
    {
        var data = PostgresDataDirectory(config);
        if (!Directory.Exists(data) || File.Exists(Path.Combine(data, "PG_VERSION"))) return;
        if (Directory.EnumerateFileSystemEntries(data).Any())
            throw new OperatorError($"node.data_dir: {data} is not empty and is not a PostgreSQL data directory (no PG_VERSION): pgha will not overwrite it; empty it or set node.data_dir to another directory");
    }

    /// <summary>The node as its pgha.yaml describes it, for NodeJoined.</summary>
    public static NodeSpec SpecOf(PghaConfig config) =>
        new(config.Node.Name, config.Node.Host, config.Node.Port, config.Node.FailoverPriority, config.Node.NoFailover, config.Node.GossipPort);

    /// <summary>
    /// Makes sure this node may run as a member of <paramref name="state"/>'s cluster: refuses a name the log
    /// gives another address, a node removed earlier, a data directory that is a primary's; records NodeJoined
    /// for a new node. Returns the state after the join (or <paramref name="state"/> when already a member).
    /// </summary>
    public static async Task<ClusterState> JoinAsync(WitnessStore witness, PghaConfig config, ClusterState state, string configFile, CancellationToken cancellationToken) =>
        await MayJoinAsync(witness, config, state, configFile, cancellationToken)
            ? (await RecordJoinAsync(witness, config.Cluster, SpecOf(config), Initiator.Agent(config.Node.Name), cancellationToken)).State
            : state;

    /// <summary>The checks of <see cref="JoinAsync"/> without recording anything: true when the node has to join, false when it is a member; throws when it may not run.</summary>
    public static async Task<bool> MayJoinAsync(WitnessStore witness, PghaConfig config, ClusterState state, string configFile, CancellationToken cancellationToken)
    {
        var node = config.Node;
        if (state.Nodes.TryGetValue(node.Name, out var recorded))
        {
            if (recorded.Host != node.Host || recorded.Port != node.Port)
                throw new OperatorError($"node.name: cluster {config.Cluster} already has a member {node.Name} at {recorded.Host}:{recorded.Port}, not {node.Host}:{node.Port} (node.host, node.port): " +
                    $"give this node another name, or remove the other first (pgha member remove {node.Name})");
            return false;
        }
        if (await LastRemovalAsync(witness, config.Cluster, node.Name, cancellationToken) is { } removal)
            throw new OperatorError($"{node.Name} was removed from cluster {config.Cluster} ({Describe(removal)}): it does not join again by itself; " +
                $"to add it back, run 'pgha member add {configFile} --config MEMBER_FILE' (MEMBER_FILE: a running member's pgha.yaml, or --url API) and start this agent again");
        var data = PostgresDataDirectory(config);
        if (File.Exists(Path.Combine(data, "PG_VERSION")) && !File.Exists(Path.Combine(data, "standby.signal")))
            throw new OperatorError($"node.data_dir: {data} holds a PostgreSQL data directory that is not a standby (no standby.signal): a new member of cluster {config.Cluster} " +
                "starts from a base backup of its primary; empty the directory (or set node.data_dir to an empty one) and start again");
        return true;
    }

    /// <summary>
    /// The one way a node becomes a member, whoever asks (its own agent on a first start, an operator through
    /// <c>POST /api/v1/members</c>): NodeJoined for <paramref name="spec"/>, checked like every event. A name
    /// already a member at the same address is not recorded again (Joined false); at another address it is
    /// refused (<see cref="EventRejectedError"/>), nothing recorded.
    /// </summary>
    public static async Task<(bool Joined, ClusterState State)> RecordJoinAsync(WitnessStore witness, string cluster, NodeSpec spec, Initiator by, CancellationToken cancellationToken)
    {
        var state = await witness.StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        if (state.Nodes.TryGetValue(spec.Name, out var member))
        {
            if (member.Host != spec.Host || member.Port != spec.Port)
                throw new EventRejectedError(cluster, nameof(NodeJoined), $"{spec.Name} is already a member at {member.Host}:{member.Port}, not {spec.Host}:{spec.Port}: give the new node another name, or remove {spec.Name} first");
            return (false, state);
        }
        var after = await witness.AppendCheckedAsync(cluster, new NodeJoined(spec) { By = by, CorrelationId = $"join-{spec.Name}-{Guid.NewGuid():n}"[..24] }, cancellationToken).ConfigureAwait(false);
        return (true, after);
    }

    /// <summary>The NodeLeft that removed <paramref name="node"/>, when its last membership event is one.</summary>
    public static async Task<RecordedEvent?> LastRemovalAsync(WitnessStore witness, string cluster, string node, CancellationToken cancellationToken)
    {
        if (!await witness.EverMentionedAsync(cluster, node, cancellationToken)) return null;
        RecordedEvent? last = null;
        long? after = null;
        while (true)
        {
            var page = await witness.EventsAsync(cluster, new HistoryFilter
            {
                Node = node,
                Types = [EventTypes.NameOf(typeof(NodeJoined)), EventTypes.NameOf(typeof(NodeLeft)), EventTypes.NameOf(typeof(ClusterBootstrapped))],
                AfterVersion = after,
                Limit = WitnessStore.MaxPageSize,
            }, cancellationToken);
            if (page.Events.Count > 0) last = page.Events[^1];
            if (page.NextAfterVersion is null) break;
            after = page.NextAfterVersion;
        }
        return last?.Event is NodeLeft ? last : null;
    }

    /// <summary>"at version 42 by user alice: decommissioned".</summary>
    public static string Describe(RecordedEvent removal) =>
        $"at version {removal.Version} by {removal.Event.By}: {((NodeLeft)removal.Event).Reason}";
}
