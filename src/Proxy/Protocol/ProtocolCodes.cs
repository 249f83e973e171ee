namespace HA.Proxy.Protocol;

/// <summary>The PostgreSQL wire-protocol codes the proxy reads or writes (protocol 3.0).</summary>
public static class ProtocolCodes
{
    public const int Protocol30 = 3 << 16;
    public const int SslRequest = 80877103;
    public const int GssEncRequest = 80877104;
    public const int CancelRequest = 80877102;

    /// <summary>The first packet is at least a length and a code; no real startup comes near 10000 bytes.</summary>
    public const int MinStartupLength = 8;
    public const int MaxStartupLength = 10000;

    public const byte BackendKeyData = (byte)'K';
    public const byte ReadyForQuery = (byte)'Z';
    public const byte ErrorResponse = (byte)'E';
}
