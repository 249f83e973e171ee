using System.Globalization;
using HA.Agent.Postgres;

namespace HA.Agent.Local;

/// <summary>One node of a local cluster: its name and its port on the cluster's listen address.</summary>
public sealed record LocalNodeSpec(string Name, int Port);

/// <summary>
/// The shape of a cluster on one machine: a witness PostgreSQL and the managed nodes, the first of
/// which is created as the primary and the rest as its streaming replicas.
/// </summary>
public sealed record LocalTopology(string ClusterName, int WitnessPort, IReadOnlyList<LocalNodeSpec> Nodes, string ListenAddress = "127.0.0.1")
{
    public const string WitnessName = "witness";
    /// <summary>
    /// Below the kernel's ephemeral range (32768-60999 by default): a port in it may be held for a while
    /// by any outgoing connection that happened to be given it, and the demo would find it "in use". The
    /// demo's ports run up to about base + 1250 (agents and proxies included).
    /// </summary>
    public const int DefaultBasePort = 15432;

    /// <summary>Nodes n1..nN on base+1..base+N, the witness on base.</summary>
    public static LocalTopology Generate(string clusterName, int nodeCount, int basePort) =>
        new(clusterName, basePort,
            Enumerable.Range(1, nodeCount).Select(i => new LocalNodeSpec($"n{i}", basePort + i)).ToList());

    public LocalNodeSpec InitialPrimary => Nodes[0];

    public IEnumerable<LocalNodeSpec> InitialReplicas => Nodes.Skip(1);

    /// <summary>Every problem in the topology, each naming the offending name or port; empty when valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (!NodeSettings.IsValidName(ClusterName))
            problems.Add($"cluster name '{ClusterName}' is not valid: use a letter, then letters, digits, '-' or '_' (at most 48)");
        if (Nodes.Count == 0) problems.Add("the topology has no nodes: it needs at least one (the primary)");
        if (Nodes.Count > 16) problems.Add($"the topology has {Nodes.Count} nodes: at most 16 on one machine");
        foreach (var node in Nodes)
        {
            if (!NodeSettings.IsValidName(node.Name))
                problems.Add($"node name '{node.Name}' is not valid: use a letter, then letters, digits, '-' or '_' (at most 48)");
            if (string.Equals(node.Name, WitnessName, StringComparison.OrdinalIgnoreCase))
                problems.Add($"node name '{node.Name}' is reserved for the witness database");
        }
        foreach (var group in Nodes.GroupBy(n => n.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            problems.Add($"node name '{group.Key}' is used by {group.Count()} nodes: names must be unique");
        foreach (var group in Ports().GroupBy(p => p.Port).Where(g => g.Count() > 1))
            problems.Add($"port {group.Key} is given to {string.Join(" and ", group.Select(p => p.Owner))}: ports must be unique");
        foreach (var (owner, port) in Ports().Where(p => p.Port is < 1024 or > 65535))
            problems.Add($"port {port.ToString(CultureInfo.InvariantCulture)} of {owner} is outside 1024-65535");
        if (!System.Net.IPAddress.TryParse(ListenAddress, out _))
            problems.Add($"listen address '{ListenAddress}' is not an IP address");
        return problems;
    }

    /// <summary>Every port with the name of what uses it ("witness", "node n2").</summary>
    public IEnumerable<(string Owner, int Port)> Ports() =>
        Nodes.Select(n => ($"node {n.Name}", n.Port)).Prepend((WitnessName, WitnessPort));
}
