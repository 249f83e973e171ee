using System.Diagnostics;
using HA.Agent.Lease;
using HA.Core.Errors;
using HA.Core.Leases;
using HA.Testing;

namespace HA.Agent.Tests.Lease;

/// <summary>A real three-member etcd cluster, shared by the contract tests (they use distinct keys).</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    public EtcdCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await EtcdCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class etcd_lease_store(EtcdFixture etcd) : LeaseStoreContract, IClassFixture<EtcdFixture>
{
    protected override TimeSpan Ttl => TimeSpan.FromSeconds(4);

    // The contract is about who holds the key, not about deadlines (an_etcd_lease_under_member_failures
    // keeps the default): a generous deadline keeps a slow fsync on a loaded machine from failing a call
    // (seen once in CI: an acquire took over the default 1 s while the cluster tests ran beside it).
    protected override async Task<ILeaseStore> OpenAsync() =>
        await EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = etcd.Cluster.Endpoints, OperationTimeout = TimeSpan.FromSeconds(10) });

    [Theory]
    [InlineData("localhost")]
    [InlineData("http://127.0.0.1")]
    [InlineData("http://127.0.0.1:2379,,http://127.0.0.1:2380")]
    [InlineData("ftp://127.0.0.1:2379")]
    public async Task a_malformed_endpoint_names_the_setting(string endpoints)
    {
        var error = await Assert.ThrowsAsync<OperatorError>(() => EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = endpoints }));
        Assert.StartsWith("lease.etcd.endpoints: '", error.Message);
        Assert.EndsWith("is not an endpoint like http://127.0.0.1:2379 (scheme, host and port are all needed)", error.Message);
    }

    [Fact]
    public async Task an_unreachable_cluster_at_start_names_the_setting()
    {
        var error = await Assert.ThrowsAsync<OperatorError>(() => EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = "http://127.0.0.1:1" }));
        Assert.StartsWith("lease.etcd.endpoints: no etcd member answered at http://127.0.0.1:1", error.Message);
    }
}

/// <summary>Each test owns a cluster: members are killed.</summary>
public sealed class an_etcd_lease_under_member_failures
{
    private static readonly LeaseTimings Timings = new(TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(2));

    [Fact]
    public async Task losing_one_member_keeps_the_lease_and_losing_two_tells_the_holder_before_its_ttl_runs_out()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        await using var store = await EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = cluster.Endpoints });
        await using var contender = await EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = cluster.Endpoints });
        var grant = (await store.TryAcquireAsync("demo/primary", "n1", Timings.Ttl, default))!;
        var givenUp = new TaskCompletionSource<(LeaseGivenUp Report, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        var holding = new LeaseKeeper(store, Timings, TimeProvider.System).HoldAsync(grant, report => { givenUp.TrySetResult((report, clock.Elapsed)); return Task.CompletedTask; }, default);

        cluster.Kill(0);
        var oneDown = Stopwatch.StartNew();
        while (oneDown.Elapsed < Timings.Ttl * 1.5)
        {
            Assert.False(givenUp.Task.IsCompleted, "the holder gave up with one member of three down");
            try { Assert.Null(await contender.TryAcquireAsync("demo/primary", "n2", Timings.Ttl, default)); }
            catch (LeaseStoreUnavailableException) { } // a call routed to the dead member
            await Task.Delay(500);
        }
        var stillHeld = await Eventually.HoldsAsync(() => contender.ReadAsync("demo/primary", default), h => h is not null, TimeSpan.FromSeconds(10), "reading the holder");
        Assert.Equal(("n1", grant.Token), (stillHeld!.Holder, stillHeld.Token));

        // Quorum lost: every renewal fails; the holder must be told while its lease is still valid.
        var lastSurelyRenewed = clock.Elapsed - Timings.RenewEvery;
        cluster.Kill(1);
        var (report, at) = await givenUp.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(report, await holding);
        Assert.True(report.MarginLeft > TimeSpan.Zero, $"margin {report.MarginLeft.TotalMilliseconds:0} ms");
        Assert.True(at < lastSurelyRenewed + Timings.RenewEvery + Timings.Ttl, $"told at {at.TotalMilliseconds:0} ms");
        Assert.StartsWith("could not renew within ttl - fence_margin: ", report.Reason);
    }
}
