using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using HA.Agent.Postgres;
using HA.Testing;
using Npgsql;

namespace HA.Proxy.Tests;

/// <summary>
/// Random and mutated frontend messages after a real startup (a trust role, so the fuzzer needs no
/// SCRAM): whatever the client sends, its session ends without harming the proxy, and everyone else
/// is served.
/// </summary>
[Collection(ProxyCollection.Name)]
public class fuzzing_the_relay(ProxyFixture fixture)
{
    private const string FuzzUser = "fuzz_client";

    private async Task AllowFuzzUserAsync()
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(fixture.Postgres.Instance.Settings));
        await connection.OpenAsync();
        await using (var exists = new NpgsqlCommand($"SELECT count(*) FROM pg_roles WHERE rolname = '{FuzzUser}'", connection))
            if ((long)(await exists.ExecuteScalarAsync())! == 1) return;
        await using (var create = new NpgsqlCommand($"CREATE ROLE {FuzzUser} LOGIN", connection)) await create.ExecuteNonQueryAsync();
        var hba = Path.Combine(fixture.Postgres.Instance.Settings.DataDirectory, "pg_hba.conf");
        await File.WriteAllTextAsync(hba, $"host all {FuzzUser} 127.0.0.1/32 trust\n" + await File.ReadAllTextAsync(hba));
        await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", connection);
        await reload.ExecuteNonQueryAsync();
    }

    private static byte[] Startup()
    {
        var body = Encoding.UTF8.GetBytes($"user\0{FuzzUser}\0database\0postgres\0\0");
        var packet = new byte[8 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(packet, packet.Length);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), 3 << 16);
        body.CopyTo(packet, 8);
        return packet;
    }

    private static byte[] Query(string sql)
    {
        var text = Encoding.UTF8.GetBytes(sql + "\0");
        var message = new byte[5 + text.Length];
        message[0] = (byte)'Q';
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + text.Length);
        text.CopyTo(message, 5);
        return message;
    }

    /// <summary>Reads until the server says ReadyForQuery ('Z' message) or the connection ends; returns whether it got there.</summary>
    private static async Task<bool> ReadUntilReadyAsync(Socket socket, CancellationToken token)
    {
        var received = new List<byte>();
        var chunk = new byte[8192];
        while (true)
        {
            for (var at = 0; at + 5 <= received.Count;)
            {
                var length = BinaryPrimitives.ReadInt32BigEndian(received.GetRange(at + 1, 4).ToArray());
                if (received[at] == 'Z') return true;
                at += 1 + length;
            }
            var n = await socket.ReceiveAsync(chunk, SocketFlags.None, token);
            if (n == 0) return false;
            received.AddRange(chunk.AsSpan(0, n));
        }
    }

    [Fact]
    public async Task random_and_mutated_messages_end_only_their_own_session()
    {
        await AllowFuzzUserAsync();
        var random = new Random(8_2026);
        await using var bystander = await fixture.OpenAsync();
        for (var round = 0; round < 150; round++)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(fixture.Proxy.PrimaryEndpoint, deadline.Token);
            await socket.SendAsync(Startup(), deadline.Token);
            Assert.True(await ReadUntilReadyAsync(socket, deadline.Token), $"round {round}: the fuzz role did not get a session");

            byte[] payload;
            switch (round % 3)
            {
                case 0:
                    payload = new byte[random.Next(1, 300)];
                    random.NextBytes(payload);
                    break;
                case 1:
                    payload = Query("SELECT 1; SELECT repeat('x', 1000)");
                    for (var flips = random.Next(1, 4); flips > 0; flips--) payload[random.Next(payload.Length)] = (byte)random.Next(256);
                    break;
                default:
                    payload = Query("SELECT 1");
                    BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(1), random.Next(int.MinValue, int.MaxValue));
                    break;
            }
            await socket.SendAsync(payload, deadline.Token);
            // Whatever the server makes of it, the end of the client's input ends the session.
            socket.Shutdown(SocketShutdown.Send);
            var chunk = new byte[8192];
            while (await socket.ReceiveAsync(chunk, SocketFlags.None, deadline.Token) > 0) { }

            if (round % 25 == 0)
            {
                await using var check = new NpgsqlCommand("SELECT $1::int", bystander) { Parameters = { new() { Value = round } } };
                Assert.Equal(round, await check.ExecuteScalarAsync());
            }
        }
        await Eventually.HoldsAsync(() => Task.FromResult(fixture.Proxy.OpenSessions), n => n == 1, TimeSpan.FromSeconds(30), "only the bystander's session to be left");
        await using var fresh = await fixture.OpenAsync();
        await using var last = new NpgsqlCommand("SELECT 'still serving'", fresh);
        Assert.Equal("still serving", await last.ExecuteScalarAsync());
    }
}
