using HA.Agent.Lease;
using HA.Core.Agent;
using HA.Core.Leases;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Runtime;

/// <summary>
/// The primary lease as one agent holds it (DESIGN §3.1): taken only when free, then renewed by a
/// <see cref="LeaseKeeper"/> until released or lost — lost, <c>lost</c> fences the server before the
/// lease can expire anywhere else. The watchdog hears of every renewal.
/// </summary>
public sealed class PrimaryLeaseHolder(
    NodeAgentOptions options,
    ILeaseStore store,
    TimeProvider time,
    ILogger logger,
    Func<LeaseGivenUp, Task> lost,
    Func<bool>? failsafeConfirms)
{
    private static readonly TimeSpan RetryEvery = TimeSpan.FromMilliseconds(200);

    private readonly object _gate = new();
    private Hold? _hold;

    /// <summary>Fences PostgreSQL half a fence margin after the renewal deadline this holder's keeper acts on: a backstop for an agent too stalled to act.</summary>
    public LeaseWatchdog? Watchdog { get; set; }

    /// <summary>Whether this agent holds the primary lease now.</summary>
    public bool Holds
    {
        get { lock (_gate) return _hold is not null; }
    }

    private string Key => LeaseKeys.Primary(options.Cluster);
    private LeaseTimings Timings => options.PrimaryLease;

    /// <summary>Who the store says holds the lease.</summary>
    public async Task<LeaseReading> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await store.ReadAsync(Key, cancellationToken).ConfigureAwait(false) is { } holder
                ? new LeaseReading.HeldBy(holder.Holder)
                : new LeaseReading.Free();
        }
        catch (LeaseStoreUnavailableException e)
        {
            logger.LogWarning("Agent {Node}: cannot read the primary lease: {Error}", options.Node, e.Message);
            return new LeaseReading.StoreUnavailable(e.Message);
        }
    }

    /// <summary>Takes the primary lease if it is free, and keeps it until released or lost (true when held).</summary>
    public async Task<bool> TryHoldAsync(CancellationToken cancellationToken)
    {
        lock (_gate) if (_hold is not null) return true;
        LeaseGrant? grant;
        try
        {
            grant = await store.TryAcquireAsync(Key, options.Node, Timings.Ttl, cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseStoreUnavailableException e)
        {
            logger.LogWarning("Agent {Node}: cannot take the primary lease: {Error}", options.Node, e.Message);
            return false;
        }
        if (grant is null) return false;
        var hold = new Hold(grant);
        lock (_gate) _hold = hold;
        Watchdog?.Keep(Timings.Deadline + Timings.FenceMargin / 2);
        logger.LogInformation("Agent {Node} holds the primary lease (token {Token})", options.Node, grant.Token);
        var keeper = new LeaseKeeper(store, Timings, time, logger, failsafeConfirms, renewed: left => Watchdog?.Keep(left + Timings.FenceMargin / 2));
        hold.Keeping = Task.Run(async () =>
        {
            var given = await keeper.HoldAsync(grant, lost, hold.Stop.Token).ConfigureAwait(false);
            lock (_gate) if (_hold == hold) _hold = null;
            if (given is not null) Watchdog?.Off();
            return given;
        }, CancellationToken.None);
        return true;
    }

    /// <summary>Takes the lease, waiting up to two TTLs for its holder to give it up; throws when it cannot (a PROMOTE fails without it).</summary>
    public async Task HoldBeforePromotingAsync(CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + Timings.Ttl + Timings.Ttl;
        while (!await TryHoldAsync(cancellationToken).ConfigureAwait(false))
        {
            if (time.GetUtcNow() > deadline)
                throw new InvalidOperationException($"could not take the primary lease of {options.Cluster} (held by {(await store.ReadAsync(Key, cancellationToken).ConfigureAwait(false))?.Holder ?? "nobody"})");
            await Task.Delay(RetryEvery, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gives the primary lease up at once (true when it was held).</summary>
    public async Task<bool> ReleaseAsync()
    {
        Hold? hold;
        lock (_gate) (hold, _hold) = (_hold, null);
        if (hold is null) return false;
        await hold.Stop.CancelAsync().ConfigureAwait(false);
        await hold.Keeping.ConfigureAwait(false);
        Watchdog?.Off();
        logger.LogInformation("Agent {Node} released the primary lease (token {Token})", options.Node, hold.Grant.Token);
        return true;
    }

    private sealed class Hold(LeaseGrant grant)
    {
        public LeaseGrant Grant { get; } = grant;
        public CancellationTokenSource Stop { get; } = new();
        public Task<LeaseGivenUp?> Keeping { get; set; } = Task.FromResult<LeaseGivenUp?>(null);
    }
}
