using System.Data;
using HA.Core.State;
using HA.Testing;
using Npgsql;

namespace HA.Proxy.Tests;

[Collection(ProxyCollection.Name)]
public class following_the_routing_table(ProxyFixture fixture)
{
    [Fact]
    public async Task without_a_primary_a_client_gets_57P03_and_with_one_again_it_connects()
    {
        try
        {
            fixture.PublishPrimary(null);
            var error = await Assert.ThrowsAsync<PostgresException>(() => fixture.OpenAsync());
            Assert.Equal(("FATAL", "57P03"), (error.Severity, error.SqlState));
            Assert.Contains("has no primary right now", error.MessageText);
        }
        finally
        {
            fixture.PublishPrimary(fixture.Server);
        }
        await using var connection = await fixture.OpenAsync();
        Assert.Equal(ConnectionState.Open, connection.FullState);
    }

    [Fact]
    public async Task an_unreachable_primary_gets_08006_naming_it()
    {
        using var ports = FreePorts.Reserve(1);
        try
        {
            fixture.PublishPrimary(new RouteEndpoint("gone", "127.0.0.1", ports.Ports[0]));
            var error = await Assert.ThrowsAsync<PostgresException>(() => fixture.OpenAsync());
            Assert.Equal("08006", error.SqlState);
            Assert.Contains($"cannot reach the primary gone at 127.0.0.1:{ports.Ports[0]}", error.MessageText);
        }
        finally
        {
            fixture.PublishPrimary(fixture.Server);
        }
    }

    [Fact]
    public async Task when_a_node_stops_being_primary_its_connections_are_closed_and_new_ones_go_to_the_new_primary()
    {
        await using var old = await fixture.OpenAsync();
        await using var replicaPort = await fixture.OpenAsync(fixture.Proxy.ReplicaEndpoint.Port); // falls back to the primary
        await using (var check = new NpgsqlCommand("SELECT 1", old)) Assert.Equal(1, await check.ExecuteScalarAsync());
        // The same server under another node name stands in for a new primary: the proxy goes by the table.
        var promoted = fixture.Server with { Node = "pg1-promoted" };
        try
        {
            fixture.PublishPrimary(promoted);
            await Eventually.HoldsAsync(async () =>
            {
                try
                {
                    await using var probe = new NpgsqlCommand("SELECT 1", old);
                    await probe.ExecuteScalarAsync();
                    return "still open";
                }
                catch (NpgsqlException e)
                {
                    return "closed: " + e.Message;
                }
            }, s => s.StartsWith("closed", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the old primary's connection to be closed");
            await Eventually.HoldsAsync(() => Task.FromResult(fixture.Proxy.Counters.OpenConnections.GetValueOrDefault("pg1")), n => n == 0, TimeSpan.FromSeconds(30), "no connection left to pg1");
            await using var fresh = await fixture.OpenAsync();
            await using var query = new NpgsqlCommand("SELECT 2", fresh);
            Assert.Equal(2, await query.ExecuteScalarAsync());
            Assert.Equal(1, fixture.Proxy.Counters.OpenConnections.GetValueOrDefault("pg1-promoted"));
        }
        finally
        {
            fixture.PublishPrimary(fixture.Server);
        }
    }
}
