using HA.Core.State;

namespace HA.Proxy.Routing;

/// <summary>
/// Where the proxy learns who is primary and which replicas serve reads: the latest routing table
/// (null until one was read) and an event raised with each new one.
/// </summary>
public interface IRoutingSource
{
    RoutingTable? Current { get; }

    event Action<RoutingTable>? Changed;
}

/// <summary>A routing source that publishes what it is given: tests, and hosts that read the table themselves.</summary>
public sealed class PublishedRouting : IRoutingSource
{
    private RoutingTable? _current;

    public RoutingTable? Current => Volatile.Read(ref _current);

    public event Action<RoutingTable>? Changed;

    public void Publish(RoutingTable table)
    {
        Volatile.Write(ref _current, table);
        Changed?.Invoke(table);
    }
}
