using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using HA.Proxy.Protocol;

namespace HA.Proxy.Tests;

public class reading_a_first_packet
{
    private static byte[] Packet(int code, params string[] pairs)
    {
        var body = new List<byte>();
        foreach (var text in pairs) { body.AddRange(Encoding.UTF8.GetBytes(text)); body.Add(0); }
        if (code == ProtocolCodes.Protocol30) body.Add(0);
        var packet = new byte[8 + body.Count];
        BinaryPrimitives.WriteInt32BigEndian(packet, packet.Length);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), code);
        body.CopyTo(packet, 8);
        return packet;
    }

    private static ClientOpening Read(byte[] bytes)
    {
        Assert.True(StartupFraming.TryRead(new ReadOnlySequence<byte>(bytes), out var opening, out _));
        return opening!;
    }

    [Fact]
    public void a_startup_message_gives_its_parameters_and_the_packet_unchanged()
    {
        var packet = Packet(ProtocolCodes.Protocol30, "user", "app", "database", "orders", "application_name", "psql");
        var opening = Read(packet);
        Assert.Equal(OpeningKind.Startup, opening.Kind);
        Assert.Equal("app", opening.User);
        Assert.Equal("orders", opening.Database);
        Assert.Equal("psql", opening.Parameters["application_name"]);
        Assert.Equal(packet, opening.Packet);
    }

    [Fact]
    public void ssl_gssenc_and_cancel_requests_are_recognised()
    {
        Assert.Equal(OpeningKind.SslRequest, Read(Packet(ProtocolCodes.SslRequest)).Kind);
        Assert.Equal(OpeningKind.GssEncRequest, Read(Packet(ProtocolCodes.GssEncRequest)).Kind);
        var cancel = Read(BackendMessages.Cancel(1234, -5678));
        Assert.Equal((OpeningKind.CancelRequest, 1234, -5678), (cancel.Kind, cancel.ProcessId, cancel.SecretKey));
    }

    [Fact]
    public void a_packet_split_anywhere_waits_for_the_rest()
    {
        var packet = Packet(ProtocolCodes.Protocol30, "user", "app");
        for (var cut = 0; cut < packet.Length; cut++)
            Assert.False(StartupFraming.TryRead(new ReadOnlySequence<byte>(packet, 0, cut), out _, out _));
        var joined = new byte[packet.Length + 3];
        packet.CopyTo(joined, 0);
        Assert.True(StartupFraming.TryRead(new ReadOnlySequence<byte>(joined), out _, out var consumed));
        Assert.Equal(packet.Length, new ReadOnlySequence<byte>(joined).Slice(0, consumed).Length);
    }

    [Theory]
    [InlineData(int.MaxValue, "length field 2147483647")]
    [InlineData(unchecked((int)0x80000000), "length field 2147483648")]
    [InlineData(7, "length field 7")]
    [InlineData(0x47455420, "length field 1195725856")] // "GET " from an HTTP client
    public void a_length_out_of_bounds_is_refused_before_anything_is_buffered(int length, string named)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, length);
        var refusal = Assert.Throws<ProtocolViolation>(() => StartupFraming.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _));
        Assert.Contains(named, refusal.Message);
        Assert.Equal("08P01", refusal.SqlState);
    }

    [Theory]
    [InlineData(2 << 16, "unsupported frontend protocol 2.0")]
    [InlineData((3 << 16) | 2, "unsupported frontend protocol 3.2")]
    [InlineData(1234, "unsupported frontend protocol 0.1234")]
    public void another_protocol_version_is_refused_naming_the_field(int code, string named)
    {
        var refusal = Assert.Throws<ProtocolViolation>(() => Read(Packet(code, "user", "app")));
        Assert.Contains(named, refusal.Message);
        Assert.Contains("protocol version field", refusal.Message);
    }

    [Fact]
    public void a_startup_without_a_user_is_refused_as_postgresql_does()
    {
        var refusal = Assert.Throws<ProtocolViolation>(() => Read(Packet(ProtocolCodes.Protocol30, "database", "x")));
        Assert.Equal("28000", refusal.SqlState);
        Assert.Contains("'user'", refusal.Message);
    }

    [Fact]
    public void malformed_parameter_lists_are_refused_naming_what_is_wrong()
    {
        var unterminated = Packet(ProtocolCodes.Protocol30, "user", "app")[..^1];
        BinaryPrimitives.WriteInt32BigEndian(unterminated, unterminated.Length);
        Assert.Contains("does not end with a zero byte", Assert.Throws<ProtocolViolation>(() => Read(unterminated)).Message);

        var noValueEnd = Packet(ProtocolCodes.Protocol30, "user", "app")[..^2];
        BinaryPrimitives.WriteInt32BigEndian(noValueEnd, noValueEnd.Length);
        Assert.Contains("value of parameter 'user'", Assert.Throws<ProtocolViolation>(() => Read(noValueEnd)).Message);

        Assert.Contains("given twice", Assert.Throws<ProtocolViolation>(() => Read(Packet(ProtocolCodes.Protocol30, "user", "a", "user", "b"))).Message);

        var badCancel = new byte[12];
        BinaryPrimitives.WriteInt32BigEndian(badCancel, 12);
        BinaryPrimitives.WriteInt32BigEndian(badCancel.AsSpan(4), ProtocolCodes.CancelRequest);
        Assert.Contains("invalid CancelRequest", Assert.Throws<ProtocolViolation>(() => Read(badCancel)).Message);
    }

    [Fact]
    public void random_bytes_never_escape_as_anything_but_a_protocol_violation()
    {
        var random = new Random(20261125);
        var valid = Packet(ProtocolCodes.Protocol30, "user", "app", "database", "db");
        for (var round = 0; round < 20000; round++)
        {
            byte[] bytes;
            if (round % 2 == 0)
            {
                bytes = new byte[random.Next(0, 64)];
                random.NextBytes(bytes);
                if (bytes.Length >= 4 && round % 4 == 0) BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length);
            }
            else
            {
                bytes = (byte[])valid.Clone();
                for (var flips = random.Next(1, 4); flips > 0; flips--) bytes[random.Next(4, bytes.Length)] = (byte)random.Next(256);
            }
            try
            {
                StartupFraming.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _);
            }
            catch (ProtocolViolation)
            {
            }
        }
    }

    [Fact]
    public void an_error_response_carries_severity_sqlstate_and_message()
    {
        var bytes = BackendMessages.Error("57P03", "no primary");
        Assert.Equal((byte)'E', bytes[0]);
        Assert.Equal(bytes.Length - 1, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1)));
        Assert.Equal("SFATAL\0VFATAL\0C57P03\0Mno primary\0\0", Encoding.UTF8.GetString(bytes.AsSpan(5)));
    }
}
