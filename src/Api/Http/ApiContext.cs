using HA.Agent.Gossip;
using HA.Agent.Runtime;
using HA.Api.Config;
using HA.Api.Proxying;
using HA.Core.Leases;
using HA.Projections;

namespace HA.Api.Http;

/// <summary>
/// What the HTTP endpoints of one node may read and act through: its configuration, its agent (local
/// PostgreSQL view), the witness store (the cluster's log and projections), the heartbeats it hears
/// (its own and its peers' through gossip), and its proxy when it runs one.
/// </summary>
public sealed class ApiContext
{
    /// <summary>The configuration in force: replaced as a whole by a reload (POST /api/v1/control/reload), never edited.</summary>
    public required PghaConfig Config { get; set; }

    /// <summary>The pgha.yaml <see cref="Config"/> was read from (what a reload reads again); null when there is none.</summary>
    public string? ConfigFile { get; init; }
    public required NodeAgent Agent { get; init; }
    public required WitnessStore Witness { get; init; }

    /// <summary>The latest heartbeat per node, this node's own included (the gossip view).</summary>
    public required Func<IReadOnlyDictionary<string, ReceivedHeartbeat>> Heartbeats { get; init; }

    /// <summary>The proxy this node runs (<c>proxy</c> section of pgha.yaml), or null.</summary>
    public RunningProxy? Proxy { get; init; }

    /// <summary>The lease store the agent uses (lease.backend), read by <c>GET /api/v1/lease</c> and the lease metrics; null when this process has none.</summary>
    public ILeaseStore? Leases { get; init; }

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public string Node => Config.Node.Name;
}
