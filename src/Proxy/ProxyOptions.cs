using System.Net;
using HA.Proxy.Routing;

namespace HA.Proxy;

/// <summary>The proxy's settings (pgha.yaml proxy.*); a port of 0 takes any free port (tests).</summary>
public sealed record ProxyOptions
{
    public IPAddress Listen { get; init; } = IPAddress.Loopback;
    public int PrimaryPort { get; init; } = 6432;
    public int ReplicaPort { get; init; } = 6433;
    public ReplicaFallback ReplicaFallback { get; init; } = ReplicaFallback.Primary;

    /// <summary>How the replica port picks among the replicas that serve reads: one of <see cref="ReplicaBalancers.Names"/>.</summary>
    public string ReplicaPolicy { get; init; } = "round-robin";

    /// <summary>With a certificate, an SSLRequest is answered 'S' and TLS negotiated with the client (proxy.tls_certificate, proxy.tls_key); without one, 'N'.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>A client that has not sent a whole startup packet by then is closed.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a connect to a server may take before the client gets 08006.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
