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
    public async Task twenty_megabytes_each_way_arrive_whole_while_the_client_pauses_its_reads()
    {
        await using var connection = await fixture.OpenAsync();
        static string Row(int i) => $"{i}\t{new string((char)('A' + i % 26), 1000)}";
        // Out: the server writes far more than the socket buffers hold while the client stops reading
        // now and then, so the proxy has to wait for room on the client's side and lose nothing.
        using (var text = await connection.BeginTextExportAsync("COPY (SELECT i, repeat(chr(65 + i % 26), 1000) FROM generate_series(1, 20000) i) TO STDOUT"))
        {
            var lines = 0;
            while (await text.ReadLineAsync() is { } line)
            {
                lines++;
                Assert.Equal(Row(lines), line);
                if (lines % 4000 == 0) await Task.Delay(300);
            }
            Assert.Equal(20000, lines);
        }
        // In: as much the other way, checked by the server.
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE big (i int, s text)", connection)) await create.ExecuteNonQueryAsync();
        await using (var writer = await connection.BeginTextImportAsync("COPY big FROM STDIN"))
        {
            for (var i = 1; i <= 20000; i++) await writer.WriteLineAsync(Row(i));
        }
        await using var check = new NpgsqlCommand("SELECT count(*), sum(length(s)), bool_and(s = repeat(chr(65 + i % 26), 1000)) FROM big", connection);
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal((20000L, 20_000_000L, true), (reader.GetInt64(0), reader.GetInt64(1), reader.GetBoolean(2)));
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
