using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using HA.Agent.Gossip;
using HA.Agent.Postgres;
using HA.Core.State;

namespace HA.Agent.Runtime;

/// <summary>Where a member listens: its PostgreSQL and its agent's gossip.</summary>
public sealed record MemberAddress(string Host, int Port, int GossipPort)
{
    public ReplicationSource Source => new(Host, Port);
}

/// <summary>
/// The members one agent works with, itself included: those its pgha.yaml lists until the cluster's log
/// exists, then exactly those the log names — a node that joined later is in, one that left is out.
/// An address comes from pgha.yaml when it lists the member (the operator's word, and the tests' fault
/// relays), otherwise from the member's NodeJoined. Read as the members' replication sources (directives,
/// peer probes); <see cref="Changed"/> tells gossip when the set or an address changes.
/// </summary>
public sealed class ClusterMembers : IReadOnlyDictionary<string, ReplicationSource>
{
    private readonly IReadOnlyDictionary<string, MemberAddress> _configured;
    private volatile IReadOnlyDictionary<string, MemberAddress> _current;

    public ClusterMembers(IReadOnlyDictionary<string, MemberAddress> configured)
    {
        _configured = new Dictionary<string, MemberAddress>(configured, StringComparer.Ordinal);
        _current = _configured;
    }

    /// <summary>Every member and its addresses, now.</summary>
    public IReadOnlyDictionary<string, MemberAddress> Current => _current;

    /// <summary>Raised (on the agent's loop) with the new members after an update changed them.</summary>
    public event Action<IReadOnlyDictionary<string, MemberAddress>>? Changed;

    /// <summary>Takes the members from the log; true when they changed.</summary>
    public bool Update(ClusterState state)
    {
        var next = new SortedDictionary<string, MemberAddress>(StringComparer.Ordinal);
        foreach (var view in state.Nodes.Values)
        {
            next[view.Name] = _configured.TryGetValue(view.Name, out var listed)
                ? listed
                : new MemberAddress(view.Host, view.Port, view.GossipPort > 0 ? view.GossipPort : GossipOptions.DefaultPort);
        }
        var before = _current;
        if (before.Count == next.Count && next.All(m => before.TryGetValue(m.Key, out var was) && was == m.Value)) return false;
        _current = next;
        Changed?.Invoke(next);
        return true;
    }

    /// <summary>The networks pg_hba.conf must let in: every member's host, and loopback.</summary>
    public IReadOnlyList<string> HbaNetworks() =>
        [.. _current.Values.Concat(_configured.Values).Select(m => HostNetwork(m.Host)).Append("127.0.0.1/32").Append("::1/128").Distinct().Order(StringComparer.Ordinal)];

    /// <summary>A host as a pg_hba.conf address: an IP as a single-host CIDR, a name as <c>samenet</c>.</summary>
    public static string HostNetwork(string host) =>
        IPAddress.TryParse(host, out var address) ? $"{address}/{(address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32)}" : "samenet";

    public ReplicationSource this[string key] => _current[key].Source;

    public IEnumerable<string> Keys => _current.Keys;

    public IEnumerable<ReplicationSource> Values => _current.Values.Select(m => m.Source);

    public int Count => _current.Count;

    public bool ContainsKey(string key) => _current.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out ReplicationSource value)
    {
        if (_current.TryGetValue(key, out var member))
        {
            value = member.Source;
            return true;
        }
        value = null;
        return false;
    }

    public IEnumerator<KeyValuePair<string, ReplicationSource>> GetEnumerator() =>
        _current.Select(m => KeyValuePair.Create(m.Key, m.Value.Source)).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
