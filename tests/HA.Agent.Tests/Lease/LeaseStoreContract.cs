using System.Collections.Concurrent;
using System.Diagnostics;
using HA.Core.Leases;
using HA.Testing;

namespace HA.Agent.Tests.Lease;

/// <summary>
/// What every lease backend must do (DESIGN §7). Each backend's test class derives from this and says
/// how to open a store and which TTL to use (its minimum, to keep the expiry tests short).
/// </summary>
public abstract class LeaseStoreContract
{
    protected abstract Task<ILeaseStore> OpenAsync();

    protected abstract TimeSpan Ttl { get; }

    private static string NewKey() => "test/" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task a_free_key_is_acquired_and_a_held_one_is_refused_to_everyone()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        var grant = await store.TryAcquireAsync(key, "alpha", Ttl, default);
        Assert.NotNull(grant);
        Assert.Null(await store.TryAcquireAsync(key, "beta", Ttl, default));
        Assert.Null(await store.TryAcquireAsync(key, "alpha", Ttl, default));
        var holder = await store.ReadAsync(key, default);
        Assert.Equal(("alpha", grant.Token), (holder?.Holder, holder?.Token));
    }

    [Fact]
    public async Task release_hands_the_key_over_at_once_with_a_larger_token()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        var first = (await store.TryAcquireAsync(key, "alpha", Ttl, default))!;
        await store.ReleaseAsync(first, default);
        Assert.Null(await store.ReadAsync(key, default));
        var second = await store.TryAcquireAsync(key, "beta", Ttl, default);
        Assert.NotNull(second);
        Assert.True(second.Token > first.Token, $"token {second.Token} after {first.Token}");
        await Assert.ThrowsAsync<LeaseLostException>(() => store.RenewAsync(first, default));
        await store.ReleaseAsync(first, default); // releasing a lost lease is harmless...
        Assert.Equal("beta", (await store.ReadAsync(key, default))?.Holder); // ...and does not free the new holder's key
    }

    [Fact]
    public async Task renewing_keeps_the_lease_beyond_its_ttl()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        var grant = (await store.TryAcquireAsync(key, "alpha", Ttl, default))!;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Ttl * 2)
        {
            await store.RenewAsync(grant, default);
            Assert.Null(await store.TryAcquireAsync(key, "beta", Ttl, default));
            await Task.Delay(Ttl / 4);
        }
        Assert.Equal(grant.Token, (await store.ReadAsync(key, default))?.Token);
    }

    [Fact]
    public async Task a_lease_expires_after_its_ttl_when_renewals_stop_and_never_before()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        // The clock starts before the acquisition is sent: the store's TTL cannot start earlier.
        var clock = Stopwatch.StartNew();
        var grant = (await store.TryAcquireAsync(key, "alpha", Ttl, default))!;

        var taken = await Eventually.HoldsAsync(() => store.TryAcquireAsync(key, "beta", Ttl, default), g => g is not null, Ttl * 4 + TimeSpan.FromSeconds(10), "beta to acquire the expired lease");
        var elapsed = clock.Elapsed;

        // Safety, not speed: the lease was never handed over before its TTL had run out.
        Assert.True(elapsed >= Ttl - TimeSpan.FromMilliseconds(20), $"taken over after {elapsed.TotalMilliseconds:0} ms, TTL {Ttl.TotalMilliseconds:0} ms");
        Assert.True(taken!.Token > grant.Token);
        await Assert.ThrowsAsync<LeaseLostException>(() => store.RenewAsync(grant, default));
    }

    [Fact]
    public async Task tokens_strictly_increase_across_many_holders()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        var tokens = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            var grant = (await store.TryAcquireAsync(key, $"holder{i % 3}", Ttl, default))!;
            tokens.Add(grant.Token);
            await store.ReleaseAsync(grant, default);
        }
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    [Fact]
    public async Task contenders_racing_for_many_rounds_never_hold_the_key_at_the_same_time()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        var history = new ConcurrentQueue<(string Holder, long Token, long AcquiredAt, long ReleasingAt)>();
        var clock = Stopwatch.StartNew();
        var rounds = 0;
        async Task Contend(string name)
        {
            while (Volatile.Read(ref rounds) < 60 && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                try
                {
                    var grant = await store.TryAcquireAsync(key, name, Ttl, default);
                    if (grant is null) continue;
                    var acquiredAt = clock.ElapsedTicks;
                    await store.RenewAsync(grant, default);
                    var releasingAt = clock.ElapsedTicks;
                    await store.ReleaseAsync(grant, default);
                    history.Enqueue((name, grant.Token, acquiredAt, releasingAt));
                    Interlocked.Increment(ref rounds);
                }
                catch (LeaseStoreUnavailableException)
                {
                    // A loaded machine can make an operation miss its deadline: its outcome is unknown, so
                    // nothing is recorded (a lease held unknowingly only keeps the others out until its TTL).
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => Contend($"contender{i}"))));

        // History check: ordered by token, each holding window [acquired, releasing] ends before the next begins.
        var windows = history.OrderBy(h => h.Token).ToList();
        Assert.True(windows.Count >= 60, $"only {windows.Count} rounds");
        Assert.Equal(windows.Count, windows.Select(w => w.Token).Distinct().Count());
        for (var i = 1; i < windows.Count; i++)
            Assert.True(windows[i].AcquiredAt > windows[i - 1].ReleasingAt,
                $"{windows[i].Holder} (token {windows[i].Token}) acquired while {windows[i - 1].Holder} (token {windows[i - 1].Token}) still held it");
        Assert.True(windows.Select(w => w.Holder).Distinct().Count() > 1, "only one contender ever won");
    }

    [Fact]
    public async Task a_watcher_sees_the_key_taken_and_freed()
    {
        await using var store = await OpenAsync();
        var key = NewKey();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new ConcurrentQueue<LeaseHolder?>();
        var watching = Task.Run(async () =>
        {
            try { await foreach (var holder in store.WatchAsync(key, stop.Token)) seen.Enqueue(holder); }
            catch (OperationCanceledException) { }
        });
        await Eventually.HoldsAsync(() => Task.FromResult(seen.Count), c => c >= 1, TimeSpan.FromSeconds(30), "the watch to report the free key");
        var grant = (await store.TryAcquireAsync(key, "alpha", Ttl, default))!;
        await Eventually.HoldsAsync(() => Task.FromResult(seen.LastOrDefault()?.Holder), h => h == "alpha", TimeSpan.FromSeconds(30), "the watch to report alpha");
        await store.ReleaseAsync(grant, default);
        await Eventually.HoldsAsync(() => Task.FromResult(seen.Count >= 3 && seen.Last() is null), free => free, TimeSpan.FromSeconds(30), "the watch to report the key free again");
        await stop.CancelAsync();
        await watching;
    }

    [Fact]
    public async Task a_ttl_below_the_backends_minimum_is_refused_naming_the_setting()
    {
        await using var store = await OpenAsync();
        var error = await Assert.ThrowsAsync<HA.Core.Errors.OperatorError>(() => store.TryAcquireAsync(NewKey(), "alpha", store.MinimumTtl / 2, default));
        Assert.StartsWith("lease.ttl ", error.Message);
        Assert.Contains($"below the {store.Backend} backend's minimum", error.Message);
    }
}
