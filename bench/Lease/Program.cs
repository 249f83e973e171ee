// Lease benchmark: per backend, acquire and renew latency and the handover time after the holder
// dies, each beside a reference (one bare round trip to the same store) measured in the same run.
//   dotnet run -c Release --project bench/Lease -- [--samples 500] [--handovers 5]
// Consul is not measured: no real Consul runs on these machines (the tests use a double).
using System.Diagnostics;
using HA.Bench;
using System.Globalization;
using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Leases;
using Npgsql;

var samples = BenchStats.Option(args, "--samples", 500);
var handovers = BenchStats.Option(args, "--handovers", 5);
var rows = new List<string>();

// PostgreSQL: a witness started here with durable (default) settings.
var witness = HA.Testing.TestWitness.WithSettings(new Dictionary<string, string>());
await witness.InitializeAsync();
try
{
    var connectionString = await witness.NewDatabaseAsync();
    await using var postgres = await PostgresLeaseStore.OpenAsync(connectionString);
    await using var raw = NpgsqlDataSource.Create(connectionString);
    rows.AddRange(await MeasureAsync(postgres, TimeSpan.FromSeconds(2), async () =>
    {
        await using var command = raw.CreateCommand("SELECT clock_timestamp()");
        await command.ExecuteScalarAsync();
    }, "SELECT clock_timestamp()"));

    // etcd: a real three-member cluster on loopback, as in the tests.
    await using (var cluster = await HA.Testing.EtcdCluster.StartAsync())
    {
        await using var etcd = await EtcdLeaseStore.OpenAsync(new EtcdLeaseOptions { Endpoints = cluster.Endpoints });
        rows.AddRange(await MeasureAsync(etcd, TimeSpan.FromSeconds(2), () => etcd.ReadAsync("bench/reference", default), "a read of one key (range request)"));
    }

    Console.WriteLine("| backend | measurement | p50 (ms) | p99 (ms) | reference | ref p50 (ms) | ref p99 (ms) |");
    Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
    foreach (var row in rows) Console.WriteLine(row);
    Console.WriteLine();
    Console.WriteLine($"{samples} samples per latency row; {handovers} handovers per backend; handover = from the holder's death (no more renewals, no release) until a contender polling every 100 ms holds the key.");
}
finally
{
    await witness.DisposeAsync();
}

async Task<List<string>> MeasureAsync(ILeaseStore store, TimeSpan ttl, Func<Task> reference, string referenceName)
{
    var acquire = new double[samples];
    var renew = new double[samples];
    var baseline = new double[samples];
    for (var i = 0; i < samples; i++)
    {
        var key = $"bench/{Guid.NewGuid():N}";
        var clock = Stopwatch.StartNew();
        var grant = (await store.TryAcquireAsync(key, "holder", ttl, default))!;
        acquire[i] = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        await store.RenewAsync(grant, default);
        renew[i] = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        await reference();
        baseline[i] = clock.Elapsed.TotalMilliseconds;
        await store.ReleaseAsync(grant, default);
    }

    var handover = new double[handovers];
    for (var i = 0; i < handovers; i++)
    {
        var key = $"bench/handover/{Guid.NewGuid():N}";
        var dead = (await store.TryAcquireAsync(key, "dead", ttl, default))!;
        await store.RenewAsync(dead, default);
        var clock = Stopwatch.StartNew(); // the holder dies right after a renewal: the worst case
        while (await store.TryAcquireAsync(key, "next", ttl, default) is null) await Task.Delay(100);
        handover[i] = clock.Elapsed.TotalMilliseconds;
    }
    var ttlMs = ttl.TotalMilliseconds.ToString(CultureInfo.InvariantCulture);
    return
    [
        Row(store.Backend, "acquire (free key)", acquire, referenceName, baseline),
        Row(store.Backend, "renew", renew, referenceName, baseline),
        string.Create(CultureInfo.InvariantCulture, $"| {store.Backend} | handover after the holder dies, TTL {ttlMs} ms | {BenchStats.Percentile(handover, 0.5):0} | {BenchStats.Percentile(handover, 0.99):0} | the TTL itself | {ttlMs} | {ttlMs} |"),
    ];
}



static string Row(string backend, string what, double[] values, string referenceWhat, double[] referenceValues) =>
    string.Create(CultureInfo.InvariantCulture,
        $"| {backend} | {what} | {BenchStats.Percentile(values, 0.5):0.00} | {BenchStats.Percentile(values, 0.99):0.00} | {referenceWhat} | {BenchStats.Percentile(referenceValues, 0.5):0.00} | {BenchStats.Percentile(referenceValues, 0.99):0.00} |");
