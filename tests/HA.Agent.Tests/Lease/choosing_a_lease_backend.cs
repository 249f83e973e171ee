using HA.Agent.Lease;
using HA.Core.Errors;
using HA.Testing;

namespace HA.Agent.Tests.Lease;

public sealed class choosing_a_lease_backend
{
    [Theory]
    [InlineData("zookeeper", 30, 5, "lease.backend 'zookeeper' is not one of postgres, etcd, consul")]
    [InlineData("postgres", 30, 25, "lease.fence_margin (25s) must leave room for at least one renewal: below ttl*2/3 (20s)")]
    [InlineData("postgres", 30, 0, "lease.fence_margin must be positive")]
    [InlineData("etcd", 30, 5, "lease.etcd.endpoints is required for lease.backend etcd")]
    [InlineData("consul", 30, 5, "lease.consul.address is required for lease.backend consul")]
    [InlineData("postgres", 30, 5, "lease.postgres.connection_string is required for lease.backend postgres")]
    public async Task a_bad_section_names_the_key(string backend, int ttl, int margin, string message)
    {
        var options = new LeaseOptions { Backend = backend, Ttl = TimeSpan.FromSeconds(ttl), FenceMargin = TimeSpan.FromSeconds(margin) };
        var error = await Assert.ThrowsAsync<OperatorError>(() => options.OpenAsync());
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public async Task a_ttl_below_consul_minimum_is_refused_at_start()
    {
        await using var consul = await ConsulDouble.StartAsync();
        var options = new LeaseOptions { Backend = "consul", Ttl = TimeSpan.FromSeconds(6), FenceMargin = TimeSpan.FromSeconds(1), Consul = new ConsulLeaseOptions { Address = consul.Address.ToString() } };
        var error = await Assert.ThrowsAsync<OperatorError>(() => options.OpenAsync());
        Assert.Equal("lease.ttl 6s is below the consul backend's minimum of 10s", error.Message);
    }

    [Fact]
    public async Task wrong_etcd_credentials_name_the_setting()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        await cluster.EnableAuthenticationAsync("pgha", "right-password");
        var refused = await Assert.ThrowsAsync<OperatorError>(() => EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = cluster.Endpoints, Username = "pgha", Password = "wrong" }));
        Assert.Equal("lease.etcd.username/password were refused by etcd (etcdserver: authentication failed, invalid user ID or password)", refused.Message);
        var missing = await Assert.ThrowsAsync<OperatorError>(() => EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = cluster.Endpoints }));
        Assert.StartsWith("lease.etcd.username/password were refused by etcd", missing.Message);
        await using var store = await EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = cluster.Endpoints, Username = "pgha", Password = "right-password" });
        Assert.NotNull(await store.TryAcquireAsync("demo/leader", "n1", TimeSpan.FromSeconds(2), default));
    }
}
