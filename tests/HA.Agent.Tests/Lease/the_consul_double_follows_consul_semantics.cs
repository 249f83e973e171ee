using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using HA.Testing;

namespace HA.Agent.Tests.Lease;

public sealed class the_consul_double_follows_consul_semantics
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task a_created_session_is_shown_by_info_with_its_settings()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        var id = await CreateSessionAsync(http, """{"Name":"pgha-lease","TTL":"15s","Behavior":"delete","LockDelay":"0s","NodeChecks":[]}""");

        using var info = await GetJsonAsync(http, $"v1/session/info/{id}");
        var session = Assert.Single(info.RootElement.EnumerateArray().ToList());
        Assert.Equal(id, session.GetProperty("ID").GetString());
        Assert.Equal("pgha-lease", session.GetProperty("Name").GetString());
        Assert.Equal("delete", session.GetProperty("Behavior").GetString());
        Assert.Equal("15s", session.GetProperty("TTL").GetString());
        Assert.Equal(0, session.GetProperty("LockDelay").GetInt64());
    }

    [Fact]
    public async Task a_session_defaults_to_release_a_15_second_lock_delay_and_serf_health()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        var id = await CreateSessionAsync(http, """{"TTL":"15s"}""");

        using var info = await GetJsonAsync(http, $"v1/session/info/{id}");
        var session = info.RootElement[0];
        Assert.Equal("release", session.GetProperty("Behavior").GetString());
        Assert.Equal(15_000_000_000, session.GetProperty("LockDelay").GetInt64());
        Assert.Equal(["serfHealth"], session.GetProperty("NodeChecks").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task info_on_an_unknown_session_is_an_empty_array()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        using var info = await GetJsonAsync(http, $"v1/session/info/{Guid.NewGuid()}");

        Assert.Equal(JsonValueKind.Array, info.RootElement.ValueKind);
        Assert.Equal(0, info.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task renewing_a_live_session_returns_it_and_restarts_its_ttl()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"10s"}""");
        var createdAt = Assert.Single(consul.Sessions).RenewedAt;

        using var response = await http.PutAsync($"v1/session/renew/{id}", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var renewed = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(id, renewed.RootElement[0].GetProperty("ID").GetString());
        Assert.True(Assert.Single(consul.Sessions).RenewedAt >= createdAt);
    }

    [Fact]
    public async Task renewing_a_destroyed_session_is_not_found_with_consuls_message()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"10s"}""");

        using var destroyed = await http.PutAsync($"v1/session/destroy/{id}", null);
        using var renewal = await http.PutAsync($"v1/session/renew/{id}", null);

        Assert.Equal("true", await destroyed.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, renewal.StatusCode);
        Assert.Equal($"Session id '{id}' not found", await renewal.Content.ReadAsStringAsync());
        Assert.Empty(consul.Sessions);
    }

    [Theory]
    [InlineData("5s", "5000000000")]
    [InlineData("86401s", "86401000000000")]
    public async Task a_ttl_outside_10s_to_24h_is_refused_with_consuls_message(string ttl, string nanoseconds)
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        using var response = await http.PutAsync("v1/session/create", Json($$"""{"TTL":"{{ttl}}"}"""));

        // Consul reports this from its RPC layer, so the HTTP status is 500, not 400.
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal($"Invalid Session TTL '{nanoseconds}', must be between [10s=24h0m0s]", await response.Content.ReadAsStringAsync());
        Assert.Empty(consul.Sessions);
    }

    [Fact]
    public async Task acquiring_a_free_key_sets_its_session_value_and_lock_index()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"15s"}""");

        Assert.True(await PutAsync(http, $"v1/kv/service/pgha/demo/leader?acquire={id}", "n1"));

        using var read = await GetJsonAsync(http, "v1/kv/service/pgha/demo/leader");
        var entry = read.RootElement[0];
        Assert.Equal(id, entry.GetProperty("Session").GetString());
        Assert.Equal(1, entry.GetProperty("LockIndex").GetInt64());
        Assert.Equal("n1", Encoding.UTF8.GetString(Convert.FromBase64String(entry.GetProperty("Value").GetString()!)));
    }

    [Fact]
    public async Task the_holder_reacquiring_updates_the_value_without_a_new_lock_index()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"15s"}""");
        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={id}", "term-1"));

        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={id}", "term-2"));

        var key = Assert.Single(consul.Keys);
        Assert.Equal(1, key.LockIndex);
        Assert.Equal("term-2", Encoding.UTF8.GetString(key.Value!));
    }

    [Fact]
    public async Task a_second_session_cannot_acquire_a_held_key()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var first = await CreateSessionAsync(http, """{"TTL":"15s"}""");
        var second = await CreateSessionAsync(http, """{"TTL":"15s"}""");
        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={first}", "n1"));

        Assert.False(await PutAsync(http, $"v1/kv/leader?acquire={second}", "n2"));

        var key = Assert.Single(consul.Keys);
        Assert.Equal(first, key.Session);
        Assert.Equal("n1", Encoding.UTF8.GetString(key.Value!));
    }

    [Fact]
    public async Task acquiring_with_an_unknown_session_is_refused_with_consuls_message()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var unknown = Guid.NewGuid().ToString();

        using var response = await http.PutAsync($"v1/kv/leader?acquire={unknown}", Text("n1"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal($"invalid session \"{unknown}\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task releasing_clears_the_session_but_keeps_the_key()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"15s"}""");
        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={id}", "n1"));

        Assert.True(await PutAsync(http, $"v1/kv/leader?release={id}", "n1"));

        var key = Assert.Single(consul.Keys);
        Assert.Null(key.Session);
        Assert.Equal(1, key.LockIndex);
        using var read = await GetJsonAsync(http, "v1/kv/leader");
        Assert.False(read.RootElement[0].TryGetProperty("Session", out _));
    }

    [Fact]
    public async Task an_expired_delete_session_removes_the_keys_it_held()
    {
        var clock = new MovableClock();
        await using var consul = await ConsulDouble.StartAsync(new ConsulDoubleOptions { TimeProvider = clock });
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"10s","Behavior":"delete","LockDelay":"0s"}""");
        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={id}", "n1"));

        clock.Advance(TimeSpan.FromSeconds(11));

        // The expiry scan runs in the background; no request reaches the double while we watch its state.
        await Eventually.HoldsAsync(() => Task.FromResult(consul.Keys.Count), count => count == 0, Patience, "the held key to be deleted");
        Assert.Empty(consul.Sessions);
        using var read = await http.GetAsync("v1/kv/leader");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    [Fact]
    public async Task an_invalidated_release_session_leaves_its_keys_unlocked()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        var id = await CreateSessionAsync(http, """{"TTL":"10s","Behavior":"release"}""");
        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={id}", "n1"));

        Assert.True(consul.ExpireSessionNow(id));

        var key = Assert.Single(consul.Keys);
        Assert.Null(key.Session);
        Assert.Equal("n1", Encoding.UTF8.GetString(key.Value!));
    }

    [Fact]
    public async Task lock_delay_keeps_another_session_off_an_invalidated_holders_key_until_it_passes()
    {
        var clock = new MovableClock();
        await using var consul = await ConsulDouble.StartAsync(new ConsulDoubleOptions { TimeProvider = clock });
        using var http = Client(consul);
        var holder = await CreateSessionAsync(http, """{"TTL":"10s","LockDelay":"15s"}""");
        var contender = await CreateSessionAsync(http, """{"TTL":"60s"}""");
        Assert.True(await PutAsync(http, $"v1/kv/leader?acquire={holder}", "n1"));
        using var destroyed = await http.PutAsync($"v1/session/destroy/{holder}", null);

        var duringDelay = await PutAsync(http, $"v1/kv/leader?acquire={contender}", "n2");
        clock.Advance(TimeSpan.FromSeconds(16));
        var afterDelay = await PutAsync(http, $"v1/kv/leader?acquire={contender}", "n2");

        Assert.False(duringDelay);
        Assert.True(afterDelay);
    }

    [Fact]
    public async Task a_blocking_query_returns_when_the_key_changes()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        Assert.True(await PutAsync(http, "v1/kv/leader", "n1"));
        using var first = await http.GetAsync("v1/kv/leader");
        var index = long.Parse(first.Headers.GetValues("X-Consul-Index").Single());

        var blocked = http.GetAsync($"v1/kv/leader?index={index}&wait=30s");
        await Eventually.HoldsAsync(() => Task.FromResult(consul.BlockingQueriesWaiting), n => n == 1, Patience, "the query to park");
        Assert.False(blocked.IsCompleted);
        Assert.True(await PutAsync(http, "v1/kv/leader", "n2"));
        using var changed = await blocked.WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.True(long.Parse(changed.Headers.GetValues("X-Consul-Index").Single()) > index);
        using var body = JsonDocument.Parse(await changed.Content.ReadAsStringAsync());
        Assert.Equal("n2", Encoding.UTF8.GetString(Convert.FromBase64String(body.RootElement[0].GetProperty("Value").GetString()!)));
    }

    [Fact]
    public async Task a_blocking_query_returns_at_once_when_the_index_has_already_moved()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        Assert.True(await PutAsync(http, "v1/kv/leader", "n1"));
        var stale = consul.Index;
        Assert.True(await PutAsync(http, "v1/kv/leader", "n2"));

        using var response = await http.GetAsync($"v1/kv/leader?index={stale}&wait=5m").WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(consul.Index.ToString(), response.Headers.GetValues("X-Consul-Index").Single());
    }

    [Fact]
    public async Task cas_zero_writes_only_a_key_that_does_not_exist()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        var created = await PutAsync(http, "v1/kv/cluster/id?cas=0", "a");
        var overwritten = await PutAsync(http, "v1/kv/cluster/id?cas=0", "b");

        Assert.True(created);
        Assert.False(overwritten);
        Assert.Equal("a", Encoding.UTF8.GetString(Assert.Single(consul.Keys).Value!));
    }

    [Fact]
    public async Task a_request_without_a_token_is_denied_when_acls_are_on()
    {
        await using var consul = await ConsulDouble.StartAsync(new ConsulDoubleOptions { AclToken = "s3cret" });
        using var http = Client(consul);

        using var response = await http.GetAsync("v1/kv/leader");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Permission denied", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task a_request_with_an_unknown_token_is_acl_not_found()
    {
        await using var consul = await ConsulDouble.StartAsync(new ConsulDoubleOptions { AclToken = "s3cret" });
        using var http = Client(consul);
        http.DefaultRequestHeaders.Add("X-Consul-Token", "guess");

        using var response = await http.PutAsync("v1/session/create", Json("""{"TTL":"15s"}"""));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("ACL not found", await response.Content.ReadAsStringAsync());
        Assert.Empty(consul.Sessions);
    }

    [Fact]
    public async Task a_request_with_the_token_is_served()
    {
        await using var consul = await ConsulDouble.StartAsync(new ConsulDoubleOptions { AclToken = "s3cret" });
        using var http = Client(consul);
        http.DefaultRequestHeaders.Add("X-Consul-Token", "s3cret");

        var id = await CreateSessionAsync(http, """{"TTL":"15s"}""");

        Assert.Equal(id, Assert.Single(consul.Sessions).Id);
    }

    [Fact]
    public async Task registered_services_are_listed_until_deregistered()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        using var registered = await http.PutAsync("v1/agent/service/register",
            Json("""{"ID":"pgha-primary-demo","Name":"pgha-primary","Tags":["demo"],"Address":"127.0.0.1","Port":6001}"""));
        Assert.Equal(HttpStatusCode.OK, registered.StatusCode);

        using var listed = await GetJsonAsync(http, "v1/agent/services");
        Assert.Equal("pgha-primary", listed.RootElement.GetProperty("pgha-primary-demo").GetProperty("Service").GetString());
        Assert.Equal(6001, Assert.Single(consul.Services).Port);

        using var deregistered = await http.PutAsync("v1/agent/service/deregister/pgha-primary-demo", null);
        Assert.Equal(HttpStatusCode.OK, deregistered.StatusCode);
        Assert.Empty(consul.Services);
    }

    [Fact]
    public async Task deregistering_an_unknown_service_is_not_found_with_consuls_message()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        using var response = await http.PutAsync("v1/agent/service/deregister/pgha-replica", null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("Unknown service ID \"pgha-replica\". Ensure that the service ID is passed, not the service name.",
            await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task a_stopped_double_refuses_connections()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);

        await consul.StopAsync();

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("v1/kv/leader"));
    }

    [Fact]
    public async Task a_resumed_double_answers_on_the_same_address_with_its_state()
    {
        await using var consul = await ConsulDouble.StartAsync();
        using var http = Client(consul);
        Assert.True(await PutAsync(http, "v1/kv/leader", "n1"));
        var address = consul.Address;

        await consul.StopAsync();
        await consul.ResumeAsync();

        Assert.Equal(address, consul.Address);
        using var read = await http.GetAsync("v1/kv/leader");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    private static HttpClient Client(ConsulDouble consul) => new() { BaseAddress = consul.Address, Timeout = TimeSpan.FromSeconds(30) };

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static ByteArrayContent Text(string value)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(value));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }

    private static async Task<string> CreateSessionAsync(HttpClient http, string body)
    {
        using var response = await http.PutAsync("v1/session/create", Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"session create answered {(int)response.StatusCode}: {text}");
        using var created = JsonDocument.Parse(text);
        return created.RootElement.GetProperty("ID").GetString()!;
    }

    private static async Task<bool> PutAsync(HttpClient http, string path, string value)
    {
        using var response = await http.PutAsync(path, Text(value));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"PUT {path} answered {(int)response.StatusCode}: {text}");
        return JsonSerializer.Deserialize<bool>(text);
    }

    private static async Task<JsonDocument> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text);
    }

    /// <summary>The system clock shifted by a test-controlled offset, so session TTLs pass without waiting.</summary>
    private sealed class MovableClock : TimeProvider
    {
        private long _offsetTicks;

        public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
    }
}
