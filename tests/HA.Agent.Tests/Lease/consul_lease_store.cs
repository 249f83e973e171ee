using HA.Agent.Lease;
using HA.Core.Errors;
using HA.Core.Leases;

namespace HA.Agent.Tests.Lease;

/// <summary>
/// The lease contract on Consul: against a real agent when PGHA_TEST_CONSUL names one
/// (e.g. http://127.0.0.1:8500), otherwise against <see cref="ConsulDouble"/>, a test double of
/// Consul's documented session and KV semantics (no Consul can run on the CI machines).
/// </summary>
public sealed class consul_lease_store : LeaseStoreContract, IAsyncLifetime
{
    private static readonly string? RealConsul = Environment.GetEnvironmentVariable("PGHA_TEST_CONSUL");
    private ConsulDouble? _double;

    private string Address => RealConsul ?? _double!.Address.ToString();

    protected override TimeSpan Ttl => TimeSpan.FromSeconds(10);

    public async Task InitializeAsync()
    {
        if (RealConsul is null) _double = await ConsulDouble.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_double is not null) await _double.DisposeAsync();
    }

    protected override async Task<ILeaseStore> OpenAsync() =>
        await ConsulLeaseStore.OpenAsync(new ConsulLeaseOptions { Address = Address });

    [Fact]
    public async Task sessions_have_no_serf_health_check_delete_behaviour_and_no_lock_delay()
    {
        if (_double is null) return; // only the double lets a test look inside
        await using var store = await OpenAsync();
        var grant = (await store.TryAcquireAsync("demo/leader", "n1", Ttl, default))!;
        var session = Assert.Single(_double.Sessions);
        Assert.Equal(grant.Handle, session.Id);
        Assert.Equal("delete", session.Behavior);
        Assert.Equal(TimeSpan.Zero, session.LockDelay);
        using var http = new HttpClient { BaseAddress = _double.Address };
        var info = await http.GetStringAsync($"v1/session/info/{grant.Handle}");
        Assert.DoesNotContain("serfHealth", info);
        var key = Assert.Single(_double.Keys, k => k.Key == "service/pgha/demo/leader");
        Assert.Contains("\"holder\":\"n1\"", System.Text.Encoding.UTF8.GetString(key.Value!));
    }

    [Fact]
    public async Task the_role_is_registered_as_a_consul_service()
    {
        if (_double is null) return;
        await using var store = (ConsulLeaseStore)await OpenAsync();
        await store.RegisterRoleAsync("demo", "n1", "primary", "127.0.0.1", 5432, default);
        await store.RegisterRoleAsync("demo", "n1", "replica", "127.0.0.1", 5432, default);
        var service = Assert.Single(_double.Services);
        Assert.Equal(("pgha-demo-n1", "pgha-replica", 5432), (service.Id, service.Name, service.Port));
    }

    [Fact]
    public async Task a_malformed_address_names_the_setting()
    {
        var error = await Assert.ThrowsAsync<OperatorError>(() => ConsulLeaseStore.OpenAsync(new ConsulLeaseOptions { Address = "consul:8500" }));
        Assert.Equal("lease.consul.address 'consul:8500' is not an http(s) URL like http://127.0.0.1:8500", error.Message);
    }

    [Fact]
    public async Task an_unreachable_agent_at_start_names_the_setting()
    {
        var error = await Assert.ThrowsAsync<OperatorError>(() => ConsulLeaseStore.OpenAsync(new ConsulLeaseOptions { Address = "http://127.0.0.1:1" }));
        Assert.StartsWith("lease.consul.address: Consul at http://127.0.0.1:1/ is unreachable", error.Message);
    }

    [Fact]
    public async Task a_refused_token_names_the_setting()
    {
        await using var guarded = await ConsulDouble.StartAsync(new ConsulDoubleOptions { AclToken = "secret" });
        var error = await Assert.ThrowsAsync<OperatorError>(() => ConsulLeaseStore.OpenAsync(new ConsulLeaseOptions { Address = guarded.Address.ToString(), Token = "wrong" }));
        Assert.StartsWith($"lease.consul.token was refused by Consul at {guarded.Address}", error.Message);
        await using var ok = await ConsulLeaseStore.OpenAsync(new ConsulLeaseOptions { Address = guarded.Address.ToString(), Token = "secret" });
        Assert.NotNull(await ok.TryAcquireAsync("demo/leader", "n1", Ttl, default));
    }
}
