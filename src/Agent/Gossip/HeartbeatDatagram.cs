using System.Security.Cryptography;
using System.Text.Json;

namespace HA.Agent.Gossip;

/// <summary>
/// The wire format of one heartbeat: its UTF-8 JSON (camelCase) followed by the HMAC-SHA256 of that
/// JSON keyed with the cluster secret. One datagram, at most <see cref="MaxBytes"/>.
/// </summary>
public static class HeartbeatDatagram
{
    /// <summary>Stays under the 65,507-byte UDP payload limit with room to spare.</summary>
    public const int MaxBytes = 60 * 1024;

    public const int MacBytes = HMACSHA256.HashSizeInBytes;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        RespectNullableAnnotations = true,
    };

    /// <summary>The datagram carrying <paramref name="heartbeat"/>, authenticated with <paramref name="secret"/>.</summary>
    /// <exception cref="InvalidOperationException">The heartbeat does not fit in one datagram.</exception>
    public static byte[] Seal(Heartbeat heartbeat, byte[] secret)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(heartbeat, Json);
        if (payload.Length + MacBytes > MaxBytes)
            throw new InvalidOperationException($"a heartbeat of {payload.Length} bytes does not fit in one gossip datagram ({MaxBytes} bytes with its MAC)");
        var datagram = new byte[payload.Length + MacBytes];
        payload.CopyTo(datagram, 0);
        HMACSHA256.HashData(secret, payload, datagram.AsSpan(payload.Length));
        return datagram;
    }

    /// <summary>
    /// Checks the MAC (in constant time) and reads the heartbeat; returns why the datagram cannot be
    /// used (<see cref="GossipRejection.BadMac"/> or <see cref="GossipRejection.Malformed"/>), or null
    /// with <paramref name="heartbeat"/> set.
    /// </summary>
    public static GossipRejection? TryOpen(ReadOnlySpan<byte> datagram, byte[] secret, out Heartbeat? heartbeat)
    {
        heartbeat = null;
        if (datagram.Length <= MacBytes || datagram.Length > MaxBytes) return GossipRejection.Malformed;
        var payload = datagram[..^MacBytes];
        Span<byte> expected = stackalloc byte[MacBytes];
        HMACSHA256.HashData(secret, payload, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, datagram[^MacBytes..])) return GossipRejection.BadMac;
        try
        {
            heartbeat = JsonSerializer.Deserialize<Heartbeat>(payload, Json);
        }
        catch (JsonException)
        {
            return GossipRejection.Malformed;
        }
        if (heartbeat is null || string.IsNullOrEmpty(heartbeat.Node) || heartbeat.Peers is null)
        {
            heartbeat = null;
            return GossipRejection.Malformed;
        }
        return null;
    }
}
