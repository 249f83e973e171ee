using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using HA.Agent.Lease.Consul;
using HA.Core.Errors;
using HA.Core.Leases;

namespace HA.Agent.Lease;

/// <summary>Where Consul is and how pgha names its keys there (config section lease.consul).</summary>
public sealed record ConsulLeaseOptions
{
    /// <summary>lease.consul.address, e.g. http://127.0.0.1:8500</summary>
    public required string Address { get; init; }

    /// <summary>lease.consul.token: an ACL token with key and session write on service/pgha/.</summary>
    public string? Token { get; init; }

    /// <summary>How long one call may take before the store counts as unavailable.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Leases as Consul sessions (TTL at least Consul's 10 s, <c>Behavior=delete</c>, <c>LockDelay</c> 0,
/// no serfHealth check) holding KV locks under <c>service/pgha/&lt;cluster&gt;/</c>, with values a
/// person can read in the Consul UI. The token is the key's ModifyIndex at acquisition: Consul's
/// index only grows, so it strictly increases across holders even when the key was deleted between.
/// </summary>
public sealed class ConsulLeaseStore : ILeaseStore
{
    public const string KeyPrefix = "service/pgha/";

    private readonly ConsulClient _client;
    private readonly ConsulLeaseOptions _options;

    private ConsulLeaseStore(ConsulClient client, ConsulLeaseOptions options)
    {
        _client = client;
        _options = options;
    }

    public string Backend => "consul";

    public TimeSpan MinimumTtl => TimeSpan.FromSeconds(10);

    /// <summary>Checks the address and the token against the agent; errors name the setting to fix.</summary>
    public static async Task<ConsulLeaseStore> OpenAsync(ConsulLeaseOptions options, CancellationToken cancellationToken = default)
    {
        if (!Uri.TryCreate(options.Address, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https") || string.IsNullOrEmpty(address.Host))
            throw new OperatorError($"lease.consul.address '{options.Address}' is not an http(s) URL like http://127.0.0.1:8500");
        var client = new ConsulClient(new HttpClient { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan }, options.Token);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(5));
            await client.LeaderAsync(deadline.Token).ConfigureAwait(false);
            // A read of pgha's own prefix proves the token may at least read it.
            await client.GetKeyAsync(KeyPrefix + "probe", deadline.Token).ConfigureAwait(false);
        }
        catch (ConsulApiException e) when (e.Status == HttpStatusCode.Forbidden)
        {
            client.Dispose();
            throw new OperatorError($"lease.consul.token was refused by Consul at {address} ({e.Message})");
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or ConsulApiException && !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw new OperatorError($"lease.consul.address: Consul at {address} is unreachable ({e.GetBaseException().Message})");
        }
        return new ConsulLeaseStore(client, options);
    }

    public async Task<LeaseGrant?> TryAcquireAsync(string key, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        LeaseTtl.Check(this, ttl);
        var path = KeyPrefix + key;
        return await RunAsync("acquire", async token =>
        {
            var session = await _client.CreateSessionAsync($"pgha {key} {holder}", ttl, token).ConfigureAwait(false);
            var value = JsonSerializer.Serialize(new { holder, since = DateTimeOffset.UtcNow, ttl = $"{ttl.TotalSeconds}s" });
            if (!await _client.AcquireAsync(path, session, value, token).ConfigureAwait(false))
            {
                await _client.DestroySessionAsync(session, token).ConfigureAwait(false);
                return null;
            }
            var (held, _) = await _client.GetKeyAsync(path, token).ConfigureAwait(false);
            if (held?.Session != session) return null; // expired between the two calls
            return new LeaseGrant(key, holder, held.ModifyIndex, ttl, session);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        var alive = await RunAsync("renew", token => _client.RenewSessionAsync(lease.Handle, token), cancellationToken).ConfigureAwait(false);
        if (!alive) throw new LeaseLostException(lease, "Consul no longer knows its session (expired or destroyed)");
    }

    public Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken) =>
        // Behavior=delete: destroying the session deletes the key at once, and LockDelay 0 lets the next contender in.
        RunAsync("release", async token => { await _client.DestroySessionAsync(lease.Handle, token).ConfigureAwait(false); return true; }, cancellationToken);

    public Task<LeaseHolder?> ReadAsync(string key, CancellationToken cancellationToken) =>
        RunAsync("read", async token => ToHolder(key, (await _client.GetKeyAsync(KeyPrefix + key, token).ConfigureAwait(false)).Key), cancellationToken);

    public async IAsyncEnumerable<LeaseHolder?> WatchAsync(string key, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long index = 0;
        (string, long)? last = (null!, -1);
        while (!cancellationToken.IsCancellationRequested)
        {
            ConsulKey? current = null;
            var read = false;
            try
            {
                (current, var next) = await _client.GetKeyAsync(KeyPrefix + key, cancellationToken, index == 0 ? null : index, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                index = next < index ? 0 : next; // an index going backwards means Consul restarted: start over
                read = true;
            }
            catch (OperationCanceledException) { yield break; }
            catch (Exception e) when (e is HttpRequestException or ConsulApiException)
            {
                try { await Task.Delay(500, cancellationToken).ConfigureAwait(false); } catch (OperationCanceledException) { yield break; }
            }
            if (!read) continue;
            var holder = ToHolder(key, current);
            if (holder is null ? last is not null : last != (holder.Holder, holder.Token))
            {
                last = holder is null ? null : (holder.Holder, holder.Token);
                yield return holder;
            }
        }
    }

    /// <summary>Registers this node's PostgreSQL as pgha-primary or pgha-replica in Consul's catalog.</summary>
    public Task RegisterRoleAsync(string cluster, string node, string role, string address, int port, CancellationToken cancellationToken) =>
        RunAsync("register", async token =>
        {
            await _client.DeregisterServiceAsync($"pgha-{cluster}-{node}", token).ConfigureAwait(false);
            await _client.RegisterServiceAsync($"pgha-{cluster}-{node}", $"pgha-{role}", address, port, [cluster, node], token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private static LeaseHolder? ToHolder(string key, ConsulKey? entry)
    {
        if (entry?.Session is null || entry.Value is null) return null;
        using var value = JsonDocument.Parse(entry.Value);
        return new LeaseHolder(key, value.RootElement.GetProperty("holder").GetString()!, entry.ModifyIndex, null);
    }

    private async Task<T> RunAsync<T>(string operation, Func<CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.OperationTimeout);
        try
        {
            return await run(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or OperationCanceledException || e is ConsulApiException { Status: >= HttpStatusCode.InternalServerError })
        {
            throw new LeaseStoreUnavailableException(Backend, operation, e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
