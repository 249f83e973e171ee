namespace HA.Core.Events;

/// <summary>
/// A node as the cluster knows it: where it listens and how it may take part in failover.
/// <see cref="GossipPort"/> is where its agent hears heartbeats (0: not recorded, the peers' pgha.yaml or the default says).
/// </summary>
public sealed record NodeSpec(string Name, string Host, int Port, int FailoverPriority = 0, bool NoFailover = false, int GossipPort = 0);

/// <summary>The cluster's first event: its first primary and the members it started with, at term 1.</summary>
public sealed record ClusterBootstrapped(
    string Cluster,
    string Primary,
    int Timeline,
    string Lsn,
    IReadOnlyList<NodeSpec> Members) : ClusterEvent;

/// <summary>A node became a member (as a replica unless it is the bootstrapped primary).</summary>
public sealed record NodeJoined(NodeSpec Spec) : ClusterEvent, INodeEvent
{
    public string Node => Spec.Name;
}

/// <summary>A node stopped being a member: its agent stops its PostgreSQL and exits, the primary drops its slot, the others stop hearing it.</summary>
public sealed record NodeLeft(string Node, string Reason) : ClusterEvent, INodeEvent;

/// <summary>Maintenance: the node leaves routing and candidacy until attached again.</summary>
public sealed record NodeDetached(string Node, string Reason) : ClusterEvent, INodeEvent;

public sealed record NodeAttached(string Node) : ClusterEvent, INodeEvent;

/// <summary>An operator asked for the node's data directory to be thrown away and taken again from the primary (REINITIALIZE).</summary>
public sealed record ReinitializeRequested(string Node, string Reason) : ClusterEvent, INodeEvent;
