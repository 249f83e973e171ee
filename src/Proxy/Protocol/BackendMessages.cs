using System.Buffers.Binary;
using System.Text;

namespace HA.Proxy.Protocol;

/// <summary>Messages the proxy itself writes to clients and servers.</summary>
public static class BackendMessages
{
    /// <summary>An ErrorResponse with severity <paramref name="severity"/>, the SQLSTATE and the message (what PostgreSQL would send).</summary>
    public static byte[] Error(string sqlState, string message, string severity = "FATAL")
    {
        var fields = new (byte Code, string Value)[] { ((byte)'S', severity), ((byte)'V', severity), ((byte)'C', sqlState), ((byte)'M', message) };
        var length = 4 + 1 + fields.Sum(f => 1 + Encoding.UTF8.GetByteCount(f.Value) + 1);
        var bytes = new byte[1 + length];
        bytes[0] = ProtocolCodes.ErrorResponse;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), length);
        var at = 5;
        foreach (var (code, value) in fields)
        {
            bytes[at++] = code;
            at += Encoding.UTF8.GetBytes(value, bytes.AsSpan(at));
            bytes[at++] = 0;
        }
        bytes[at] = 0;
        return bytes;
    }

    /// <summary>A BackendKeyData message (protocol 3.0: a 4-byte key).</summary>
    public static byte[] KeyData(int processId, int secretKey)
    {
        var bytes = new byte[13];
        bytes[0] = ProtocolCodes.BackendKeyData;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), 12);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(5), processId);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(9), secretKey);
        return bytes;
    }

    /// <summary>A CancelRequest packet for a server.</summary>
    public static byte[] Cancel(int processId, int secretKey)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 16);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), ProtocolCodes.CancelRequest);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), processId);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), secretKey);
        return bytes;
    }
}
