using HA.Core.Events;
using HA.Projections;
using HA.Testing;
using Npgsql;

namespace HA.Projections.Tests;

/// <summary>
/// A pgha process cut off by a partition in the middle of an append leaves its witness session idle in
/// transaction, holding the stream's lock; TCP may not notice for hours. Seen in CI: the coordinator's
/// appends waited behind such a lock (30 s timeouts, again and again) and no failover was decided while
/// the primary was partitioned. The witness ends such a session after a few seconds, so the next
/// appender goes on.
/// </summary>
[Collection(WitnessCollection.Name)]
public sealed class a_witness_session_cut_off_mid_transaction(TestWitness witness)
{
    [Fact]
    public async Task frees_the_stream_for_the_next_appender()
    {
        await using var store = await Given.StoreAsync(witness);
        var state = await store.AppendAsync("cut", 0, [Given.Bootstrap("cut")]);

        // A pgha session (opened as pgha opens them) that locked the stream and then went silent.
        await using var cut = new NpgsqlConnection(WitnessSessions.ConnectionString(store.Options.ConnectionString));
        await cut.OpenAsync();
        await using var transaction = await cut.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand($"SELECT version FROM {store.Options.Schema}.mt_streams WHERE id = 'cluster/cut' FOR UPDATE", cut, transaction))
            Assert.Equal(1L, await take.ExecuteScalarAsync());

        var appended = store.AppendAsync("cut", state.Version, [Given.Health("n2", NodeHealth.Unreachable)]);
        var done = await Task.WhenAny(appended, Task.Delay(TimeSpan.FromSeconds(25)));
        Assert.True(done == appended, "the append still waits behind the silent session's lock");
        Assert.Equal(2, (await appended).Version);
    }
}
