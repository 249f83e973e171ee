using System.Text.Json;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HA.Core.Errors;
using HA.Core.Leases;

namespace HA.Agent.Lease;

/// <summary>Where etcd is (config section lease.etcd).</summary>
public sealed record EtcdLeaseOptions
{
    /// <summary>lease.etcd.endpoints: comma-separated http(s)://host:port of the members.</summary>
    public required string Endpoints { get; init; }

    /// <summary>lease.etcd.username and lease.etcd.password when etcd has authentication on.</summary>
    public string? Username { get; init; }
    public string? Password { get; init; }

    /// <summary>Keys live under this prefix (lease.etcd.prefix).</summary>
    public string Prefix { get; init; } = "/pgha/";

    /// <summary>How long one call may take before the store counts as unavailable.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Leases as etcd v3 leases holding a key created in a transaction (<c>create_revision == 0</c>). The
/// token is the key's create revision: etcd's revision only grows, so it strictly increases across
/// holders. Renewal is a single keep-alive with a deadline, so a lost quorum is noticed in time; when
/// quorum is lost etcd does not expire leases, which is why holders judge their deadline on their own
/// clock (<see cref="LeaseKeeper"/>).
/// </summary>
public sealed class EtcdLeaseStore : ILeaseStore
{
    private readonly EtcdClient _client;
    private readonly EtcdLeaseOptions _options;

    private EtcdLeaseStore(EtcdClient client, EtcdLeaseOptions options)
    {
        _client = client;
        _options = options;
    }

    public string Backend => "etcd";

    /// <summary>etcd grants at least ceil(1.5 × election timeout), 2 s with the default 1 s election timeout.</summary>
    public TimeSpan MinimumTtl => TimeSpan.FromSeconds(2);

    public static async Task<EtcdLeaseStore> OpenAsync(EtcdLeaseOptions options, CancellationToken cancellationToken = default)
    {
        foreach (var endpoint in options.Endpoints.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host) || uri.IsDefaultPort && !endpoint.Contains($":{uri.Port}", StringComparison.Ordinal))
                throw new OperatorError($"lease.etcd.endpoints: '{endpoint}' is not an endpoint like http://127.0.0.1:2379 (scheme, host and port are all needed)");
        }
        if (options.Username is null != options.Password is null)
            throw new OperatorError("lease.etcd.username and lease.etcd.password go together: give both or neither");
        var client = options.Username is null ? new EtcdClient(options.Endpoints) : new EtcdClient(options.Endpoints, options.Username, options.Password);
        try
        {
            await client.GetAsync(options.Prefix + "probe", deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            client.Dispose();
            throw new OperatorError($"lease.etcd.username/password were refused by etcd ({e.Status.Detail})");
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw new OperatorError($"lease.etcd.endpoints: no etcd member answered at {options.Endpoints} ({(e as RpcException)?.Status.Detail ?? e.Message})");
        }
        return new EtcdLeaseStore(client, options);
    }

    public async Task<LeaseGrant?> TryAcquireAsync(string key, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        LeaseTtl.Check(this, ttl);
        var path = ByteString.CopyFromUtf8(_options.Prefix + key);
        return await RunAsync("acquire", async deadline =>
        {
            var lease = (await _client.LeaseGrantAsync(new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) }, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false)).ID;
            var transaction = new TxnRequest();
            transaction.Compare.Add(new Compare { Key = path, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
            transaction.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = path, Value = ByteString.CopyFromUtf8(JsonSerializer.Serialize(new { holder, since = DateTimeOffset.UtcNow })), Lease = lease } });
            transaction.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = path } });
            var result = await _client.TransactionAsync(transaction, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.Succeeded) return new LeaseGrant(key, holder, result.Header.Revision, ttl, lease.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var current = result.Responses[0].ResponseRange.Kvs.FirstOrDefault();
            if (current is not null && current.Lease == lease) return new LeaseGrant(key, holder, current.CreateRevision, ttl, lease.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await _client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
            return null;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        var remaining = await RunAsync("renew", async deadline =>
        {
            using var call = _client.GetConnection().LeaseClient.LeaseKeepAlive(deadline: deadline, cancellationToken: cancellationToken);
            try
            {
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = LeaseId(lease) }, cancellationToken).ConfigureAwait(false);
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await call.ResponseHeadersAsync.ConfigureAwait(false); // surfaces the real RpcException
                throw;
            }
            if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false)) throw new RpcException(new Status(StatusCode.Unavailable, "no keep-alive answer"));
            return call.ResponseStream.Current.TTL;
        }, cancellationToken).ConfigureAwait(false);
        if (remaining <= 0) throw new LeaseLostException(lease, "etcd no longer knows its lease (expired or revoked)");
    }

    public Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken) =>
        RunAsync("release", async deadline =>
        {
            try
            {
                // Revoking the lease deletes the key attached to it at once.
                await _client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = LeaseId(lease) }, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                // Already expired or revoked: nothing to release.
            }
            return true;
        }, cancellationToken);

    public Task<LeaseHolder?> ReadAsync(string key, CancellationToken cancellationToken) =>
        RunAsync("read", async deadline =>
        {
            var response = await _client.GetAsync(_options.Prefix + key, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
            var kv = response.Kvs.FirstOrDefault();
            if (kv is null) return null;
            using var value = JsonDocument.Parse(kv.Value.ToStringUtf8());
            return (LeaseHolder?)new LeaseHolder(key, value.RootElement.GetProperty("holder").GetString()!, kv.CreateRevision, null);
        }, cancellationToken);

    public IAsyncEnumerable<LeaseHolder?> WatchAsync(string key, CancellationToken cancellationToken) =>
        // Polling keeps one behaviour across member failures; etcd watches would save the round trips.
        PollingLeaseWatch.WatchAsync(token => ReadAsync(key, token), TimeSpan.FromMilliseconds(100), cancellationToken);

    private static long LeaseId(LeaseGrant lease) => long.Parse(lease.Handle, System.Globalization.CultureInfo.InvariantCulture);

    private async Task<T> RunAsync<T>(string operation, Func<DateTime, Task<T>> run, CancellationToken cancellationToken)
    {
        try
        {
            // Deadlines must be UTC: gRPC refuses local times.
            return await run(DateTime.UtcNow + _options.OperationTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new LeaseStoreUnavailableException(Backend, operation, e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
