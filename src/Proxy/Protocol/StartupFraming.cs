using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace HA.Proxy.Protocol;

/// <summary>
/// Reads a client's first packet (startup, SSLRequest, GSSENCRequest or CancelRequest) from buffered
/// bytes, strictly: the length is checked before anything is buffered, so a client cannot make the
/// proxy hold more than <see cref="ProtocolCodes.MaxStartupLength"/> bytes.
/// </summary>
public static class StartupFraming
{
    /// <summary>
    /// True with the opening when a whole packet is in <paramref name="buffer"/> (<paramref name="consumed"/>
    /// is where it ends); false when more bytes are needed. Throws <see cref="ProtocolViolation"/> naming
    /// the field that is wrong.
    /// </summary>
    public static bool TryRead(ReadOnlySequence<byte> buffer, out ClientOpening? opening, out SequencePosition consumed)
    {
        opening = null;
        consumed = buffer.Start;
        if (buffer.Length < 4) return false;
        Span<byte> header = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(header);
        var length = BinaryPrimitives.ReadInt32BigEndian(header);
        if (length < ProtocolCodes.MinStartupLength || length > ProtocolCodes.MaxStartupLength)
            throw new ProtocolViolation($"invalid startup packet: length field {(uint)length} is outside {ProtocolCodes.MinStartupLength}..{ProtocolCodes.MaxStartupLength} bytes");
        if (buffer.Length < length) return false;
        var packet = buffer.Slice(0, length).ToArray();
        consumed = buffer.GetPosition(length);
        opening = Parse(packet);
        return true;
    }

    /// <summary>Parses one whole first packet (its length field already checked against its size).</summary>
    public static ClientOpening Parse(byte[] packet)
    {
        var code = BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(4));
        switch (code)
        {
            case ProtocolCodes.SslRequest:
                RequireLength(packet, 8, "SSLRequest");
                return new ClientOpening(OpeningKind.SslRequest, packet, Empty);
            case ProtocolCodes.GssEncRequest:
                RequireLength(packet, 8, "GSSENCRequest");
                return new ClientOpening(OpeningKind.GssEncRequest, packet, Empty);
            case ProtocolCodes.CancelRequest:
                RequireLength(packet, 16, "CancelRequest");
                return new ClientOpening(OpeningKind.CancelRequest, packet, Empty,
                    BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(8)), BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(12)));
            case ProtocolCodes.Protocol30:
                return new ClientOpening(OpeningKind.Startup, packet, Parameters(packet));
            default:
                throw new ProtocolViolation($"unsupported frontend protocol {code >> 16}.{code & 0xFFFF} in the startup packet's protocol version field: pgha's proxy speaks 3.0");
        }
    }

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    private static void RequireLength(byte[] packet, int expected, string what)
    {
        if (packet.Length != expected) throw new ProtocolViolation($"invalid {what}: length field is {packet.Length}, expected {expected}");
    }

    /// <summary>name\0value\0 pairs ending with one more \0; a user is required, as PostgreSQL requires it.</summary>
    private static Dictionary<string, string> Parameters(byte[] packet)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = packet.AsSpan(8);
        while (true)
        {
            if (rest.IsEmpty) throw new ProtocolViolation("invalid startup packet: the parameter list does not end with a zero byte");
            if (rest[0] == 0)
            {
                if (rest.Length != 1) throw new ProtocolViolation($"invalid startup packet: {rest.Length - 1} bytes after the parameter list's terminator");
                break;
            }
            var name = NextString(ref rest, "parameter name");
            var value = NextString(ref rest, $"value of parameter '{name}'");
            if (!parameters.TryAdd(name, value)) throw new ProtocolViolation($"invalid startup packet: parameter '{name}' is given twice");
        }
        if (!parameters.TryGetValue("user", out var user) || user.Length == 0)
            throw new ProtocolViolation("no PostgreSQL user name specified in startup packet (parameter 'user')", SqlStates.InvalidAuthorization);
        return parameters;
    }

    private static string NextString(ref Span<byte> rest, string field)
    {
        var end = rest.IndexOf((byte)0);
        if (end < 0) throw new ProtocolViolation($"invalid startup packet: the {field} is not terminated by a zero byte");
        string text;
        try
        {
            text = Strict.GetString(rest[..end]);
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolViolation($"invalid startup packet: the {field} is not valid UTF-8");
        }
        rest = rest[(end + 1)..];
        return text;
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
