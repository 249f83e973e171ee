using HA.Agent.Directives;
using HA.Agent.Lease;

namespace HA.Agent.Runtime;

/// <summary>What one node's agent needs to know.</summary>
public sealed record NodeAgentOptions
{
    public required string Cluster { get; init; }
    public required NodeAgentContext Context { get; init; }

    /// <summary>health.interval: how often PostgreSQL and the peers are probed.</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>failover.primary_restart_timeout: how long a crashed primary is restarted in place (zero: never).</summary>
    public TimeSpan PrimaryRestartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The primary lease's TTL and fence margin.</summary>
    public required LeaseTimings PrimaryLease { get; init; }

    /// <summary>lease.failsafe: stay primary without the lease store while every member confirms it.</summary>
    public bool Failsafe { get; init; }

    /// <summary>Where the agent keeps what must survive its restart (the directive gate).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The members as the log names them, updated from every state read (usually also <see cref="NodeAgentContext.Peers"/>).</summary>
    public ClusterMembers? Members { get; init; }

    public string Node => Context.Instance.Settings.Name;
}
