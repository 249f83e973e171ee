using System.Net;
using HA.Core.Errors;

namespace HA.Agent.Gossip;

/// <summary>The gossip section of pgha.yaml for one agent: where it listens, its peers, the cluster secret and the interval.</summary>
public sealed record GossipOptions
{
    /// <summary>HMAC-SHA256 keys shorter than this are too easy to guess.</summary>
    public const int MinimumSecretBytes = 16;

    /// <summary>gossip_port when pgha.yaml does not give one.</summary>
    public const int DefaultPort = 7433;

    public required string Cluster { get; init; }

    /// <summary>This agent's node name, as its peers know it.</summary>
    public required string Node { get; init; }

    /// <summary>gossip.bind: the UDP address and port this agent listens on and sends from.</summary>
    public required IPEndPoint Bind { get; init; }

    /// <summary>gossip.peers: every other member's name and gossip endpoint (not this node).</summary>
    public required IReadOnlyDictionary<string, IPEndPoint> Peers { get; init; }

    /// <summary>gossip.secret: the cluster secret every heartbeat is authenticated with.</summary>
    public required byte[] Secret { get; init; }

    /// <summary>gossip.interval: how often a heartbeat is sent (default 500 ms).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Every problem with these options, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Cluster)) problems.Add("gossip: the cluster name is empty");
        if (string.IsNullOrWhiteSpace(Node)) problems.Add("gossip: the node name is empty");
        if (Secret is null || Secret.Length < MinimumSecretBytes)
            problems.Add($"gossip.secret is {Secret?.Length ?? 0} bytes: use at least {MinimumSecretBytes} random bytes (32 recommended)");
        if (Interval <= TimeSpan.Zero) problems.Add($"gossip.interval must be positive (it is {Interval.TotalMilliseconds:0} ms)");
        if (Peers is null) problems.Add("gossip.peers is missing: list the other members");
        else if (Peers.Keys.Any(peer => string.Equals(peer, Node, StringComparison.OrdinalIgnoreCase)))
            problems.Add($"gossip.peers includes this node '{Node}': list only the other members");
        if (Bind is not null && Peers is not null && !Bind.Address.Equals(IPAddress.IPv6Any))
        {
            foreach (var (peer, endpoint) in Peers.Where(p => p.Value.AddressFamily != Bind.AddressFamily))
                problems.Add($"gossip.peers.{peer} ({endpoint}) cannot be reached from gossip.bind {Bind}: use addresses of one family, or bind [::]");
        }
        return problems;
    }

    /// <summary>Throws an <see cref="OperatorError"/> listing every problem, if any.</summary>
    public void Validate()
    {
        var problems = Problems();
        if (problems.Count > 0) throw new OperatorError(string.Join("; ", problems));
    }
}
