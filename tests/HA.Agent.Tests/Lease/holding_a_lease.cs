using System.Diagnostics;
using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Leases;
using HA.Testing;

namespace HA.Agent.Tests.Lease;

/// <summary>The keeper a primary (fence) and a coordinator (step down) use, on a real PostgreSQL lease store it can lose.</summary>
public sealed class holding_a_lease : IAsyncLifetime
{
    private static readonly LeaseTimings Timings = new(TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(1200));
    private readonly TestWitness _witness = new();
    private ILeaseStore _store = null!;

    public async Task InitializeAsync()
    {
        await _witness.InitializeAsync();
        _store = await PostgresLeaseStore.OpenAsync(await _witness.NewDatabaseAsync(), operationTimeout: TimeSpan.FromSeconds(1));
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _witness.DisposeAsync();
    }

    [Fact]
    public async Task renewals_keep_the_lease_and_stopping_releases_it_at_once()
    {
        var grant = (await _store.TryAcquireAsync("primary", "n1", Timings.Ttl, default))!;
        using var stop = new CancellationTokenSource();
        var keeper = new LeaseKeeper(_store, Timings, TimeProvider.System);
        var holding = keeper.HoldAsync(grant, _ => throw new InvalidOperationException("must not give up"), stop.Token);

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Timings.Ttl * 2)
        {
            Assert.Null(await _store.TryAcquireAsync("primary", "n2", Timings.Ttl, default));
            await Task.Delay(200);
        }
        await stop.CancelAsync();
        Assert.Null(await holding);
        Assert.NotNull(await _store.TryAcquireAsync("primary", "n2", Timings.Ttl, default));
    }

    [Fact]
    public async Task losing_the_store_gives_the_lease_up_before_it_can_expire_and_reports_the_margin()
    {
        var grant = (await _store.TryAcquireAsync("primary", "n1", Timings.Ttl, default))!;
        var keeper = new LeaseKeeper(_store, Timings, TimeProvider.System);
        var fenced = new TaskCompletionSource<(LeaseGivenUp Report, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        var lastSuccess = TimeSpan.Zero;
        var holding = keeper.HoldAsync(grant, report => { fenced.TrySetResult((report, clock.Elapsed)); return Task.CompletedTask; }, default);

        await Task.Delay(Timings.RenewEvery * 1.5);
        await _store.ReadAsync("primary", default); // the store still answers here
        lastSuccess = clock.Elapsed - Timings.RenewEvery; // conservative: a renewal happened at most one period ago
        await _witness.Instance.StopAsync(StopMode.Immediate, default);

        var (report, at) = await fenced.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(report, await holding);
        Assert.StartsWith("could not renew within ttl - fence_margin: ", report.Reason);
        Assert.True(report.MarginLeft > TimeSpan.Zero && report.MarginLeft <= Timings.FenceMargin, $"margin {report.MarginLeft.TotalMilliseconds:0} ms");
        // It gave up before the lease could have expired, counted from a renewal that surely happened.
        Assert.True(at < lastSuccess + Timings.Ttl + Timings.RenewEvery, $"gave up at {at.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task a_lease_taken_away_is_given_up_at_the_next_renewal()
    {
        var grant = (await _store.TryAcquireAsync("coordinator", "n1", Timings.Ttl, default))!;
        var keeper = new LeaseKeeper(_store, Timings, TimeProvider.System);
        var given = new TaskCompletionSource<LeaseGivenUp>();
        var holding = keeper.HoldAsync(grant, report => { given.TrySetResult(report); return Task.CompletedTask; }, default);

        await _store.ReleaseAsync(grant, default); // as if an operator freed it; a new holder takes it
        var thief = await _store.TryAcquireAsync("coordinator", "n2", Timings.Ttl, default);
        Assert.NotNull(thief);

        var report = await given.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("is lost", report.Reason);
        Assert.Equal(report, await holding);
        Assert.Equal("n2", (await _store.ReadAsync("coordinator", default))?.Holder);
    }

    [Fact]
    public async Task with_failsafe_a_holder_confirmed_by_every_member_stays_and_gives_up_once_they_stop_confirming()
    {
        var grant = (await _store.TryAcquireAsync("primary", "n1", Timings.Ttl, default))!;
        var confirmed = true;
        var keeper = new LeaseKeeper(_store, Timings, TimeProvider.System, failsafeConfirms: () => Volatile.Read(ref confirmed));
        var given = new TaskCompletionSource<LeaseGivenUp>();
        var holding = keeper.HoldAsync(grant, report => { given.TrySetResult(report); return Task.CompletedTask; }, default);
        await _witness.Instance.StopAsync(StopMode.Immediate, default);

        // Long past the deadline, still holding while confirmed.
        var stayed = await Task.WhenAny(given.Task, Task.Delay(Timings.Ttl * 2)) != given.Task;
        Assert.True(stayed, "gave up although every member confirmed it");

        Volatile.Write(ref confirmed, false);
        var report = await given.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("could not renew", report.Reason);
        Assert.Equal(report, await holding);
    }
}
