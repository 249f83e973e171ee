using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace HA.Proxy.Tests;

[Collection(ProxyCollection.Name)]
public class clients_through_the_proxy(ProxyFixture fixture)
{
    [Fact]
    public async Task npgsql_runs_extended_protocol_queries_and_sees_the_proxys_own_key()
    {
        await using var connection = await fixture.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT $1::int + 1, pg_backend_pid(), current_user", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = 41, NpgsqlDbType = NpgsqlDbType.Integer });
        await command.PrepareAsync();
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(42, reader.GetInt32(0));
        Assert.Equal(ProxyFixture.User, reader.GetString(2));
        // The client was handed the proxy's BackendKeyData, not the server's.
        Assert.NotEqual(reader.GetInt32(1), connection.ProcessID);
    }

    [Fact]
    public async Task copy_in_and_copy_out_pass_through()
    {
        await using var connection = await fixture.OpenAsync();
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE t (id int, name text)", connection)) await create.ExecuteNonQueryAsync();
        await using (var writer = await connection.BeginBinaryImportAsync("COPY t (id, name) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < 5000; i++)
            {
                await writer.StartRowAsync();
                await writer.WriteAsync(i, NpgsqlDbType.Integer);
                await writer.WriteAsync(new string('x', i % 100), NpgsqlDbType.Text);
            }
            Assert.Equal(5000UL, await writer.CompleteAsync());
        }
        using var text = await connection.BeginTextExportAsync("COPY (SELECT id, name FROM t ORDER BY id) TO STDOUT");
        var lines = 0;
        while (await text.ReadLineAsync() is { } line)
        {
            Assert.StartsWith($"{lines}\t", line);
            lines++;
        }
        Assert.Equal(5000, lines);
    }

    [Fact]
    public async Task listen_and_notify_reach_a_listener_through_the_proxy()
    {
        await using var listener = await fixture.OpenAsync();
        await using var notifier = await fixture.OpenAsync();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Notification += (_, e) => received.TrySetResult(e.Payload);
        await using (var listen = new NpgsqlCommand("LISTEN proxied", listener)) await listen.ExecuteNonQueryAsync();
        await using (var notify = new NpgsqlCommand("NOTIFY proxied, 'hello through pgha'", notifier)) await notify.ExecuteNonQueryAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await listener.WaitAsync(deadline.Token);
        Assert.Equal("hello through pgha", await received.Task.WaitAsync(deadline.Token));
    }

    [Fact]
    public async Task a_cancelled_long_query_is_cancelled_on_its_server()
    {
        await using var connection = await fixture.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_sleep(60)", connection);
        var running = command.ExecuteNonQueryAsync();
        await using (var watcher = await fixture.OpenAsync())
        {
            await HA.Testing.Eventually.HoldsAsync(async () =>
            {
                await using var look = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'", watcher);
                return (long)(await look.ExecuteScalarAsync())!;
            }, n => n == 1, TimeSpan.FromSeconds(30), "the sleeping query to show in pg_stat_activity");
        }
        var before = fixture.Proxy.Counters.CancelsForwarded;
        command.Cancel();
        // Npgsql reports a server-side cancel as an OperationCanceledException around the server's 57014.
        var cancelled = await Assert.ThrowsAsync<OperationCanceledException>(() => running);
        Assert.Equal("57014", Assert.IsType<PostgresException>(cancelled.InnerException).SqlState); // query_canceled
        Assert.True(fixture.Proxy.Counters.CancelsForwarded > before);
        // The session is still usable after the cancel.
        await using var again = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, await again.ExecuteScalarAsync());
    }

    [Fact]
    public async Task psql_works_through_the_primary_port()
    {
        var psql = "/usr/lib/postgresql/15/bin/psql";
        var start = new ProcessStartInfo(psql, ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", fixture.Proxy.PrimaryEndpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", ProxyFixture.User, "-d", "postgres", "-c", "SELECT 'psql ' || 40 + 2", "-c", "SELECT count(*) FROM generate_series(1, 100000)"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PGPASSWORD"] = ProxyFixture.Password;
        start.Environment["PGCONNECT_TIMEOUT"] = "10";
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"psql exited {process.ExitCode}: {error}");
        Assert.Equal(["psql 42", "100000"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
