using HA.Core.State;

namespace HA.Projections;

/// <summary>The cluster state as it was right after <see cref="Version"/>: time travel starts from the nearest one.</summary>
public sealed class ClusterSnapshot
{
    /// <summary><c>&lt;cluster&gt;@&lt;version&gt;</c></summary>
    public string Id { get; set; } = "";
    public string Cluster { get; set; } = "";
    public long Version { get; set; }
    public DateTimeOffset At { get; set; }
    public ClusterState State { get; set; } = new();

    public static string IdFor(string cluster, long version) => $"{cluster}@{version:D12}";
}

/// <summary>One node of one cluster as projected: what <c>GET nodes/{name}</c> shows.</summary>
public sealed class NodeDocument
{
    /// <summary><c>&lt;cluster&gt;/&lt;node&gt;</c></summary>
    public string Id { get; set; } = "";
    public string Cluster { get; set; } = "";
    public long ClusterVersion { get; set; }
    public NodeView Node { get; set; } = new();

    public static string IdFor(string cluster, string node) => $"{cluster}/{node}";
}

/// <summary>
/// The routing facts as stored, keyed by cluster name. Readers apply their own limits
/// (<see cref="RoutingTable.From(RoutingFacts, long)"/>); a document written before the facts were
/// stored has none (it held a table with one appender's limit applied) until the next append.
/// </summary>
public sealed class RoutingDocument
{
    public string Id { get; set; } = "";
    public RoutingFacts? Facts { get; set; }
}

/// <summary>What the change notification says: which cluster moved to which version and term.</summary>
public sealed record ClusterChanged(string Cluster, long Version, long Term, string? Primary);

/// <summary>
/// The last WAL position the coordinator heard the primary report, kept outside the event stream (it
/// changes every second): a coordinator that takes office without having heard the primary itself still
/// knows how far it had written, and refuses a candidate further behind than maximum_lag_on_failover.
/// </summary>
public sealed class PrimaryPositionDocument
{
    /// <summary>The cluster's name.</summary>
    public string Id { get; set; } = "";
    public string Node { get; set; } = "";
    public string Lsn { get; set; } = "";
    public DateTimeOffset ReportedAt { get; set; }
}
