using System.Buffers.Binary;
using System.Text;
using HA.Proxy.Protocol;

namespace HA.Proxy.Tests;

/// <summary>
/// The server's first messages reach the client with the proxy's BackendKeyData in place of the
/// server's, however the bytes are cut by the network; after the first ReadyForQuery nothing changes.
/// </summary>
public class rewriting_a_servers_greeting
{
    private static byte[] Message(char type, byte[] body)
    {
        var message = new byte[5 + body.Length];
        message[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + body.Length);
        body.CopyTo(message, 5);
        return message;
    }

    private static byte[] Ints(params int[] values)
    {
        var bytes = new byte[4 * values.Length];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    private static byte[] Text(string text) => [.. Encoding.UTF8.GetBytes(text), 0];

    // AuthenticationOk, a ParameterStatus, BackendKeyData 4242/777, ReadyForQuery, then a DataRow
    // whose bytes look like a BackendKeyData: it comes after ReadyForQuery and must pass unchanged.
    private static readonly byte[] AfterReady = Message('K', Ints(4242, 777));
    private static readonly byte[][] Greeting = [Message('R', Ints(0)), Message('S', [.. Text("server_version"), .. Text("15.18")]), Message('K', Ints(4242, 777)), Message('Z', "I"u8.ToArray()), Message('D', AfterReady)];

    private static byte[] Expected() => [.. Greeting[0], .. Greeting[1], .. Message('K', Ints(9, -5)), .. Greeting[3], .. Greeting[4]];

    private static (byte[] Output, List<(int, int)> Issued, bool Ready) Feed(IEnumerable<byte[]> pieces)
    {
        var issued = new List<(int, int)>();
        var greeting = new ServerGreeting("pg1", (processId, secretKey) => { issued.Add((processId, secretKey)); return (9, -5); });
        var output = new List<byte>();
        foreach (var piece in pieces)
        {
            var written = new byte[piece.Length + ServerGreeting.MaxGrowth];
            output.AddRange(written.AsSpan(0, greeting.Rewrite(piece, written)).ToArray());
        }
        return (output.ToArray(), issued, greeting.Ready);
    }

    [Fact]
    public void cut_at_any_byte_the_key_is_replaced_once_and_everything_else_passes_unchanged()
    {
        byte[] all = [.. Greeting.SelectMany(m => m)];
        for (var cut = 0; cut <= all.Length; cut++)
        {
            var (output, issued, ready) = Feed([all[..cut], all[cut..]]);
            Assert.Equal(Expected(), output);
            Assert.Equal([(4242, 777)], issued);
            Assert.True(ready, $"not ready after a cut at byte {cut}");
        }
    }

    [Fact]
    public void fed_a_byte_at_a_time_it_gives_the_same_bytes()
    {
        byte[] all = [.. Greeting.SelectMany(m => m)];
        var (output, issued, _) = Feed(all.Select(b => new[] { b }));
        Assert.Equal(Expected(), output);
        Assert.Single(issued);
    }

    [Fact]
    public void before_ready_for_query_it_is_not_ready_and_holds_back_only_a_cut_header()
    {
        byte[] first = [.. Greeting[0], .. Greeting[1], .. Greeting[2].AsSpan(0, 3)];
        var (output, issued, ready) = Feed([first]);
        Assert.False(ready);
        Assert.Empty(issued);
        Assert.Equal([.. Greeting[0], .. Greeting[1]], output);
    }

    [Theory]
    [InlineData('S', 3, "server pg1 sent a message 'S' with length 3")]
    [InlineData('K', 16, "server pg1 sent a BackendKeyData of length 16 (protocol 3.0 has 12)")]
    public void a_malformed_server_message_is_an_error_naming_the_server(char type, int length, string message)
    {
        var header = new byte[5];
        header[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), length);
        var error = Assert.Throws<IOException>(() => Feed([header]));
        Assert.Equal(message, error.Message);
    }
}
