using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using HA.Proxy.Protocol;
using HA.Testing;
using Npgsql;

namespace HA.Proxy.Tests;

[Collection(ProxyCollection.Name)]
public class bad_input_is_refused(ProxyFixture fixture)
{
    /// <summary>Sends <paramref name="bytes"/>, then reads until the proxy closes; returns the fields of the ErrorResponse it sent.</summary>
    private async Task<Dictionary<char, string>> SendAndReadRefusalAsync(byte[] bytes)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(fixture.Proxy.PrimaryEndpoint);
        if (bytes.Length > 0) await socket.SendAsync(bytes);
        return await ReadRefusalAsync(socket);
    }

    private static async Task<Dictionary<char, string>> ReadRefusalAsync(Socket socket)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = new List<byte>();
        var chunk = new byte[4096];
        while (true)
        {
            var n = await socket.ReceiveAsync(chunk, SocketFlags.None, deadline.Token);
            if (n == 0) break;
            received.AddRange(chunk.AsSpan(0, n));
        }
        Assert.True(received.Count > 5 && received[0] == 'E', $"expected an ErrorResponse then the end of the connection, got {received.Count} bytes: {Encoding.ASCII.GetString(received.ToArray())}");
        var length = BinaryPrimitives.ReadInt32BigEndian(received.ToArray().AsSpan(1));
        Assert.Equal(received.Count - 1, length); // exactly one message, then the proxy closed
        return Encoding.UTF8.GetString(received.ToArray(), 5, length - 5).Split('\0', StringSplitOptions.RemoveEmptyEntries).ToDictionary(f => f[0], f => f[1..]);
    }

    private static byte[] Length(int length, int extra = 0)
    {
        var bytes = new byte[4 + extra];
        BinaryPrimitives.WriteInt32BigEndian(bytes, length);
        return bytes;
    }

    [Fact]
    public async Task garbage_bytes_get_a_fatal_08P01_naming_the_length_field()
    {
        var error = await SendAndReadRefusalAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        Assert.Equal(("FATAL", "08P01"), (error['S'], error['C']));
        Assert.Contains("length field 1195725856", error['M']);
    }

    [Fact]
    public async Task a_length_field_of_2_GiB_is_refused_at_once()
    {
        var error = await SendAndReadRefusalAsync(Length(int.MaxValue, extra: 100));
        Assert.Equal("08P01", error['C']);
        Assert.Contains("length field 2147483647", error['M']);
    }

    [Fact]
    public async Task another_protocol_version_is_refused_naming_the_field()
    {
        var packet = Length(16, extra: 12);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), 2 << 16);
        var error = await SendAndReadRefusalAsync(packet);
        Assert.Equal("08P01", error['C']);
        Assert.Contains("protocol version field", error['M']);
    }

    [Fact]
    public async Task a_startup_packet_that_never_ends_times_out_with_an_error()
    {
        var error = await SendAndReadRefusalAsync(Length(200, extra: 10));
        Assert.Equal("08P01", error['C']);
        Assert.Contains("incomplete startup packet", error['M']);
    }

    [Fact]
    public async Task thousands_of_half_open_connections_are_closed_with_bounded_memory_while_another_client_keeps_working()
    {
        const int HalfOpen = 2000;
        const long MemoryPerConnection = 64 * 1024; // a session holds one 16 KiB read buffer while it waits for its startup packet
        var sockets = new List<Socket>();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        try
        {
            for (var i = 0; i < HalfOpen; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(fixture.Proxy.PrimaryEndpoint);
                if (i % 2 == 0) await socket.SendAsync(Length(64, extra: 3)); // half a startup packet
            }
            var heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
            Assert.True(heapGrowth < HalfOpen * MemoryPerConnection,
                $"{HalfOpen} half-open connections grew the heap by {heapGrowth / 1024 / 1024} MiB ({heapGrowth / HalfOpen} bytes each; bound {MemoryPerConnection})");
            await using (var connection = await fixture.OpenAsync())
            {
                for (var i = 0; i < 20; i++)
                {
                    await using var command = new NpgsqlCommand("SELECT $1::int", connection) { Parameters = { new() { Value = i } } };
                    Assert.Equal(i, await command.ExecuteScalarAsync());
                }
            }
            foreach (var socket in sockets) Assert.Contains("incomplete startup packet", (await ReadRefusalAsync(socket))['M']);
            await Eventually.HoldsAsync(() => Task.FromResult(fixture.Proxy.OpenSessions), n => n == 0, TimeSpan.FromSeconds(30), "every half-open session to be gone");
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    [Fact]
    public async Task a_cancel_with_a_key_the_proxy_did_not_issue_goes_nowhere()
    {
        var before = fixture.Proxy.Counters.CancelsForwarded;
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(fixture.Proxy.PrimaryEndpoint);
        await socket.SendAsync(BackendMessages.Cancel(1, 2));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await socket.ReceiveAsync(new byte[16], SocketFlags.None, deadline.Token));
        Assert.Equal(before, fixture.Proxy.Counters.CancelsForwarded);
    }
}
