namespace HA.Proxy.Protocol;

/// <summary>What a client's first packet asked for.</summary>
public enum OpeningKind
{
    SslRequest,
    GssEncRequest,
    CancelRequest,
    Startup,
}

/// <summary>
/// A client's first packet, parsed. <see cref="Packet"/> is the whole packet as received (a startup is
/// forwarded to the server unchanged); <see cref="Parameters"/> only for a startup; the process id and
/// secret key only for a cancel.
/// </summary>
public sealed record ClientOpening(OpeningKind Kind, byte[] Packet, IReadOnlyDictionary<string, string> Parameters, int ProcessId = 0, int SecretKey = 0)
{
    public string User => Parameters.GetValueOrDefault("user") ?? "";
    public string Database => Parameters.GetValueOrDefault("database") ?? User;
}

/// <summary>A client broke the protocol; <see cref="SqlState"/> and the message go back in a FATAL ErrorResponse.</summary>
public sealed class ProtocolViolation(string message, string sqlState = SqlStates.ProtocolViolation) : Exception(message)
{
    public string SqlState { get; } = sqlState;
}

/// <summary>The SQLSTATE codes the proxy answers with.</summary>
public static class SqlStates
{
    public const string ProtocolViolation = "08P01";
    public const string ConnectionFailure = "08006";
    public const string CannotConnectNow = "57P03";
    public const string AdminShutdown = "57P01";
    public const string InvalidAuthorization = "28000";
}
