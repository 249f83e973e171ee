using HA.Core.Errors;
using HA.Core.Leases;

namespace HA.Agent.Lease;

/// <summary>The lease section of pgha.yaml: which backend, its connection, and the timings.</summary>
public sealed record LeaseOptions
{
    /// <summary>lease.backend: postgres (default, the witness database), etcd or consul.</summary>
    public string Backend { get; init; } = "postgres";

    /// <summary>lease.ttl (default 30 s, as Patroni's).</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>lease.fence_margin: the holder gives up this long before its lease could expire (default 5 s).</summary>
    public TimeSpan FenceMargin { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>lease.failsafe: a primary that cannot renew stays while every member confirms it over gossip (default off).</summary>
    public bool Failsafe { get; init; }

    /// <summary>lease.postgres.connection_string (default: the witness database).</summary>
    public string? PostgresConnectionString { get; init; }

    public EtcdLeaseOptions? Etcd { get; init; }

    public ConsulLeaseOptions? Consul { get; init; }

    public LeaseTimings Timings => new(Ttl, FenceMargin);

    /// <summary>Opens the configured backend after checking the section; every error names its key.</summary>
    public async Task<ILeaseStore> OpenAsync(CancellationToken cancellationToken = default)
    {
        var problem = Timings.Problems("lease").FirstOrDefault();
        if (problem is not null) throw new OperatorError(problem);
        ILeaseStore store = Backend switch
        {
            "postgres" => await PostgresLeaseStore.OpenAsync(PostgresConnectionString ?? throw new OperatorError("lease.postgres.connection_string is required for lease.backend postgres"), cancellationToken: cancellationToken).ConfigureAwait(false),
            "etcd" => await EtcdLeaseStore.OpenAsync(Etcd ?? throw new OperatorError("lease.etcd.endpoints is required for lease.backend etcd"), cancellationToken).ConfigureAwait(false),
            "consul" => await ConsulLeaseStore.OpenAsync(Consul ?? throw new OperatorError("lease.consul.address is required for lease.backend consul"), cancellationToken).ConfigureAwait(false),
            _ => throw new OperatorError($"lease.backend '{Backend}' is not one of postgres, etcd, consul"),
        };
        if (Ttl < store.MinimumTtl)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw new OperatorError($"lease.ttl {Ttl.TotalSeconds:0.###}s is below the {store.Backend} backend's minimum of {store.MinimumTtl.TotalSeconds:0.###}s");
        }
        return store;
    }
}
