using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Npgsql;

namespace HA.Proxy.Tests;

[Collection(ProxyCollection.Name)]
public class tls_toward_clients(ProxyFixture fixture)
{
    private static async Task<(int Code, string Output)> PsqlAsync(int port, string sslMode)
    {
        var start = new ProcessStartInfo("/usr/lib/postgresql/15/bin/psql",
            ["-X", "-A", "-t", $"host=127.0.0.1 port={port.ToString(CultureInfo.InvariantCulture)} user={ProxyFixture.User} dbname=postgres sslmode={sslMode} connect_timeout=10", "-c", "SELECT 'tls ok'"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PGPASSWORD"] = ProxyFixture.Password;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, (await output + await error).Trim());
    }

    [Fact]
    public async Task with_a_certificate_npgsql_and_psql_connect_over_tls()
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString(fixture.TlsProxy.PrimaryEndpoint.Port, "SSL Mode=Require"));
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand("SELECT $1::text", connection) { Parameters = { new() { Value = "through tls" } } })
            Assert.Equal("through tls", await command.ExecuteScalarAsync());
        Assert.Equal((0, "tls ok"), await PsqlAsync(fixture.TlsProxy.PrimaryEndpoint.Port, "require"));
        // A client that does not ask for TLS is still served in the clear.
        Assert.Equal((0, "tls ok"), await PsqlAsync(fixture.TlsProxy.PrimaryEndpoint.Port, "disable"));
    }

    [Fact]
    public async Task a_cancel_works_over_a_tls_session()
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString(fixture.TlsProxy.PrimaryEndpoint.Port, "SSL Mode=Require"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_sleep(60)", connection);
        var running = command.ExecuteNonQueryAsync();
        await HA.Testing.Eventually.HoldsAsync(async () =>
        {
            await using var watcher = await fixture.OpenAsync();
            await using var look = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'", watcher);
            return (long)(await look.ExecuteScalarAsync())!;
        }, n => n == 1, TimeSpan.FromSeconds(30), "the sleeping query to show in pg_stat_activity");
        command.Cancel();
        var cancelled = await Assert.ThrowsAsync<OperationCanceledException>(() => running);
        Assert.Equal("57014", Assert.IsType<PostgresException>(cancelled.InnerException).SqlState);
    }

    [Fact]
    public async Task without_a_certificate_a_client_that_requires_tls_is_told_no()
    {
        var (code, output) = await PsqlAsync(fixture.Proxy.PrimaryEndpoint.Port, "require");
        Assert.NotEqual(0, code);
        Assert.Contains("does not support SSL", output);
    }

    [Fact]
    public async Task bytes_sent_after_an_sslrequest_before_the_handshake_are_refused()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(fixture.TlsProxy.PrimaryEndpoint);
        var request = HA.Proxy.Protocol.BackendMessages.Cancel(0, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(request, 8);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), HA.Proxy.Protocol.ProtocolCodes.SslRequest);
        await socket.SendAsync(request); // an SSLRequest (8 bytes) and 8 more bytes stuck behind it
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new List<byte>();
        var chunk = new byte[1024];
        int n;
        while ((n = await socket.ReceiveAsync(chunk, SocketFlags.None, deadline.Token)) > 0) received.AddRange(chunk.AsSpan(0, n));
        var text = System.Text.Encoding.UTF8.GetString(received.ToArray());
        Assert.StartsWith("E", text, StringComparison.Ordinal);
        Assert.Contains("8 bytes received after the SSLRequest before the TLS handshake", text);
    }
}
