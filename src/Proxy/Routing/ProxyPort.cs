namespace HA.Proxy.Routing;

/// <summary>Which of the proxy's two listeners a client came in on.</summary>
public enum ProxyPort
{
    Primary,
    Replica,
}

/// <summary>What the replica port does when no replica qualifies (proxy.replica_fallback).</summary>
public enum ReplicaFallback
{
    Primary,
    Refuse,
}
