namespace HA.Core.Leases;

/// <summary>
/// A lease this process holds. <see cref="Token"/> is its fencing token: strictly greater than the
/// token of every earlier holder of the same key, so anyone can refuse an older holder's orders.
/// <see cref="Handle"/> identifies this very grant in the backend (a row handle, an etcd lease id,
/// a Consul session).
/// </summary>
public sealed record LeaseGrant(string Key, string Holder, long Token, TimeSpan Ttl, string Handle);

/// <summary>Who holds a key now, with its token and, where the backend says, when it expires.</summary>
public sealed record LeaseHolder(string Key, string Holder, long Token, DateTimeOffset? ExpiresAt);

/// <summary>
/// The lease port (DESIGN §7): one contract, three backends (PostgreSQL, etcd, Consul). A key is held
/// by at most one holder at a time; a holder keeps it by renewing before its TTL runs out; a
/// released or expired key can be acquired by the next contender with a larger token.
/// </summary>
public interface ILeaseStore : IAsyncDisposable
{
    /// <summary>"postgres", "etcd" or "consul".</summary>
    string Backend { get; }

    /// <summary>The shortest TTL this backend supports; shorter ones are refused.</summary>
    TimeSpan MinimumTtl { get; }

    /// <summary>Acquires <paramref name="key"/> if nobody holds it; null when somebody does (even this holder: renew instead).</summary>
    Task<LeaseGrant?> TryAcquireAsync(string key, string holder, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Extends the lease by its TTL; <see cref="LeaseLostException"/> when it is no longer held.</summary>
    Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken);

    /// <summary>Gives the key up at once so the next contender can take it; releasing a lost lease is not an error.</summary>
    Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken);

    /// <summary>The current holder, or null when the key is free.</summary>
    Task<LeaseHolder?> ReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>The holder each time it changes (null when the key becomes free), starting with the current one.</summary>
    IAsyncEnumerable<LeaseHolder?> WatchAsync(string key, CancellationToken cancellationToken);
}

/// <summary>The lease is not held any more (expired, released, or taken over): stop acting as its holder.</summary>
public sealed class LeaseLostException(LeaseGrant lease, string reason)
    : Exception($"lease {lease.Key} (token {lease.Token}) held by {lease.Holder} is lost: {reason}")
{
    public LeaseGrant Lease { get; } = lease;
}

/// <summary>The lease store did not answer in time: the outcome of the operation is unknown.</summary>
public sealed class LeaseStoreUnavailableException(string backend, string operation, Exception? inner)
    : Exception($"the {backend} lease store did not answer {operation}: {inner?.GetBaseException().Message ?? "timed out"}", inner);
