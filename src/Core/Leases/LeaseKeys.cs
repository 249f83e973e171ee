namespace HA.Core.Leases;

/// <summary>Lease key names, the same on every backend (Consul prefixes them with service/pgha/).</summary>
public static class LeaseKeys
{
    public static string Leader(string cluster) => $"{cluster}/leader";

    public static string Primary(string cluster) => $"{cluster}/primary";
}
