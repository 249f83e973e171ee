using System.Diagnostics;
using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Leases;
using HA.Testing;
using Npgsql;

namespace HA.Agent.Tests.Lease;

/// <summary>The primary lease on a real lease store, the fence on a real primary with a client writing.</summary>
public sealed class a_primary_that_loses_its_lease_fences_itself
{
    [Fact]
    public async Task writes_stop_before_the_lease_can_expire_and_the_margin_is_reported()
    {
        var timings = new LeaseTimings(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1));
        await using var cluster = await TestCluster.StartAsync(nodes: 1);
        var primary = cluster.Primary;
        var leaseWitness = new TestWitness();
        await leaseWitness.InitializeAsync();
        try
        {
            await using var leases = await PostgresLeaseStore.OpenAsync(await leaseWitness.NewDatabaseAsync(), operationTimeout: TimeSpan.FromSeconds(1));
            var grant = (await leases.TryAcquireAsync(LeaseKeys.Primary("test"), "n1", timings.Ttl, default))!;
            var clock = Stopwatch.StartNew();
            var lastConfirmedRenewal = TimeSpan.Zero;
            var fencedAt = new TaskCompletionSource<TimeSpan>();
            string? fenceSteps = null;
            var keeper = new LeaseKeeper(leases, timings, TimeProvider.System);
            var holding = keeper.HoldAsync(grant, async _ =>
            {
                fenceSteps = await PostgresFence.FenceAsync(primary, default);
                fencedAt.TrySetResult(clock.Elapsed);
            }, default);

            // A client commits continuously; every acknowledged write is timed.
            var acknowledged = new List<TimeSpan>();
            using var stopWriting = new CancellationTokenSource();
            var writer = Task.Run(async () =>
            {
                await using var setup = new NpgsqlConnection(NodeProbe.ConnectionString(primary.Settings));
                await setup.OpenAsync();
                await new NpgsqlCommand("CREATE TABLE writes (at bigint)", setup).ExecuteNonQueryAsync();
                while (!stopWriting.IsCancellationRequested)
                {
                    try
                    {
                        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(primary.Settings));
                        await connection.OpenAsync();
                        await new NpgsqlCommand("INSERT INTO writes VALUES (1)", connection).ExecuteNonQueryAsync();
                        lock (acknowledged) acknowledged.Add(clock.Elapsed);
                    }
                    catch (Exception e) when (e is NpgsqlException) { await Task.Delay(20); }
                }
            });

            await Eventually.HoldsAsync(() => Task.FromResult(acknowledged.Count), c => c > 10, TimeSpan.FromSeconds(30), "writes before the lease store goes away");
            await leases.ReadAsync(LeaseKeys.Primary("test"), default);
            lastConfirmedRenewal = clock.Elapsed - timings.RenewEvery; // a renewal surely happened after this
            await leaseWitness.Instance.StopAsync(StopMode.Immediate, default);

            var fenced = await fencedAt.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var report = await holding;
            await stopWriting.CancelAsync();
            await writer;

            Assert.NotNull(report);
            Assert.True(report.MarginLeft > TimeSpan.Zero, $"margin {report.MarginLeft.TotalMilliseconds:0} ms");
            Assert.Equal("writes refused, client sessions terminated; stopped (fast)", fenceSteps);
            Assert.Null(primary.ServerProcessId());
            // No write was acknowledged once the lease could have expired anywhere.
            var lastWrite = acknowledged.Max();
            Assert.True(lastWrite <= fenced, $"a write was acknowledged at {lastWrite.TotalMilliseconds:0} ms, after the fence at {fenced.TotalMilliseconds:0} ms");
            Assert.True(fenced < lastConfirmedRenewal + timings.RenewEvery + timings.Ttl, $"fenced at {fenced.TotalMilliseconds:0} ms");
        }
        finally
        {
            await leaseWitness.DisposeAsync();
        }
    }
}
