// Witness store benchmark: append + projection latency and time-travel latency on a long stream,
// each beside a reference measured in the same run on the same PostgreSQL.
//   dotnet run -c Release --project bench/Witness -- [--events 100000] [--samples 1000]
using System.Diagnostics;
using HA.Bench;
using System.Globalization;
using HA.Agent.Postgres;
using HA.Core.Events;
using HA.Core.State;
using HA.Projections;
using Npgsql;

var events = BenchStats.Option(args, "--events", 100_000);
var samples = BenchStats.Option(args, "--samples", 1000);
// Durable settings (fsync and synchronous_commit on): the latency an operator would see.
var witness = HA.Testing.TestWitness.WithSettings(new Dictionary<string, string> { ["shared_buffers"] = "256MB", ["max_wal_size"] = "4GB" });
await witness.InitializeAsync();
try
{
    var connectionString = await witness.NewDatabaseAsync();
    await using var store = await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = connectionString });
    await using var reference = NpgsqlDataSource.Create(connectionString);
    await Sql(reference, "CREATE TABLE ref_events (cluster text, version bigint, at timestamptz DEFAULT now(), data jsonb, PRIMARY KEY (cluster, version)); CREATE TABLE ref_state (cluster text PRIMARY KEY, version bigint, data jsonb); INSERT INTO ref_state VALUES ('bench', 0, '{}')");

    var initiator = Initiator.Agent("n2");
    var nodes = Enumerable.Range(1, 5).Select(i => new NodeSpec($"n{i}", "127.0.0.1", 5500 + i)).ToList();
    await store.AppendAsync("bench", 0, [new ClusterBootstrapped("bench", "n1", 1, "0/3000000", nodes) { By = Initiator.System, CorrelationId = "bootstrap" }]);
    long n = 0;
    ClusterEvent Next()
    {
        n++;
        var node = $"n{2 + n % 4}";
        return n % 2 == 0
            ? new NodeHealthChanged(node, n % 4 == 0 ? NodeHealth.Healthy : NodeHealth.Unhealthy, "probe " + n, [node, "n1"]) { By = initiator, CorrelationId = "c" + n }
            : new ReplicationStateChanged(node, ReplicationStatus.Streaming, "async", n * 10, "n1", "lag crossed 10 MB") { By = initiator, CorrelationId = "c" + n };
    }

    // Append latency, one event per append (the coordinator's case), interleaved with the reference:
    // one durable transaction that inserts the event row and updates a state row.
    async Task<(double[] Store, double[] Reference)> MeasureAppendsAsync(int count)
    {
        var storeTimes = new double[count];
        var referenceTimes = new double[count];
        for (var i = 0; i < count; i++)
        {
            var version = await store.VersionAsync("bench");
            var e = Next();
            var clock = Stopwatch.StartNew();
            await store.AppendAsync("bench", version, [e], fencingToken: 1);
            storeTimes[i] = clock.Elapsed.TotalMilliseconds;

            clock.Restart();
            await using (var connection = await reference.OpenConnectionAsync())
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                await using var insert = new NpgsqlCommand("INSERT INTO ref_events (cluster, version, data) SELECT 'bench', version + 1, @data::jsonb FROM ref_state WHERE cluster = 'bench' FOR UPDATE; UPDATE ref_state SET version = version + 1, data = @data::jsonb WHERE cluster = 'bench'", connection, transaction);
                insert.Parameters.AddWithValue("data", System.Text.Json.JsonSerializer.Serialize(e, e.GetType()));
                await insert.ExecuteNonQueryAsync();
                await transaction.CommitAsync();
            }
            referenceTimes[i] = clock.Elapsed.TotalMilliseconds;
        }
        return (storeTimes, referenceTimes);
    }

    var rows = new List<string>();
    var (earlyStore, earlyReference) = await MeasureAppendsAsync(samples);
    rows.Add(Row($"append 1 event + projections, stream of ~{await store.VersionAsync("bench")}", earlyStore, "reference: INSERT event + UPDATE state row, one transaction", earlyReference));

    var fill = Stopwatch.StartNew();
    while (await store.VersionAsync("bench") < events)
    {
        var version = await store.VersionAsync("bench");
        var batch = Enumerable.Range(0, (int)Math.Min(1000, events - version)).Select(_ => Next()).ToList();
        await store.AppendAsync("bench", version, batch, fencingToken: 1);
    }
    var filled = fill.Elapsed;
    var total = await store.VersionAsync("bench");

    var (lateStore, lateReference) = await MeasureAppendsAsync(samples);
    rows.Add(Row($"append 1 event + projections, stream of ~{total}", lateStore, "reference: INSERT event + UPDATE state row, one transaction", lateReference));

    // Time travel: state at a random version / time, against replaying from the first event (no snapshots).
    // Times are taken from random events, so they are spread over the stream as the events are.
    var random = new Random(42);
    var byVersion = new double[200];
    var byTime = new double[200];
    for (var i = 0; i < byVersion.Length; i++)
    {
        var target = random.NextInt64(1, total);
        var clock = Stopwatch.StartNew();
        await store.StateAtAsync("bench", version: target);
        byVersion[i] = clock.Elapsed.TotalMilliseconds;
        var at = (await store.EventsAsync("bench", new HistoryFilter { AfterVersion = random.NextInt64(1, total) - 1, Limit = 1 })).Events[0].At;
        clock.Restart();
        await store.StateAtAsync("bench", at: at);
        byTime[i] = clock.Elapsed.TotalMilliseconds;
    }
    var fullReplay = new double[5];
    for (var i = 0; i < fullReplay.Length; i++)
    {
        var clock = Stopwatch.StartNew();
        await store.ReplayAsync("bench");
        fullReplay[i] = clock.Elapsed.TotalMilliseconds;
    }
    rows.Add(Row($"state at a random version, {total} events", byVersion, "reference: replay all events from the first (no snapshot)", fullReplay));
    rows.Add(Row($"state at the time of a random event, {total} events", byTime, "reference: replay all events from the first (no snapshot)", fullReplay));

    Console.WriteLine($"| measurement | p50 (ms) | p99 (ms) | reference | ref p50 (ms) | ref p99 (ms) | p50 ratio |");
    Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
    foreach (var row in rows) Console.WriteLine(row);
    Console.WriteLine();
    Console.WriteLine($"filling the stream to {total} events in batches of 1000 appends took {filled.TotalSeconds:0.0} s ({total / filled.TotalSeconds:0} events/s); {samples} samples per append row, 200 per time-travel row, 5 full replays");
}
finally
{
    await witness.DisposeAsync();
}


static async Task Sql(NpgsqlDataSource source, string sql)
{
    await using var command = source.CreateCommand(sql);
    await command.ExecuteNonQueryAsync();
}


static string Row(string what, double[] values, string referenceWhat, double[] referenceValues) =>
    string.Create(CultureInfo.InvariantCulture,
        $"| {what} | {BenchStats.Percentile(values, 0.5):0.00} | {BenchStats.Percentile(values, 0.99):0.00} | {referenceWhat} | {BenchStats.Percentile(referenceValues, 0.5):0.00} | {BenchStats.Percentile(referenceValues, 0.99):0.00} | {BenchStats.Percentile(values, 0.5) / BenchStats.Percentile(referenceValues, 0.5):0.00} |");
