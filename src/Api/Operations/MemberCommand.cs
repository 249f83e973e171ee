using System.Globalization;
using HA.Api.Cli;
using HA.Api.Config;
using HA.Api.Run;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha member list|remove|add</c>: the cluster's members as its log names them. Removing records
/// NodeLeft: the node's agent stops its PostgreSQL and exits, the primary drops its replication slot,
/// the others stop hearing it. Adding records NodeJoined for a node's pgha.yaml — what its agent does by
/// itself on a first start; needed only to bring back a node that was removed.
/// </summary>
public static class MemberCommand
{
    public const string Help = """
        pgha member — list, remove or add the members of a cluster

        usage: pgha member list --config FILE
               pgha member remove NODE --config FILE [--reason TEXT] [--force]
               pgha member add --config NODE_FILE

        FILE is any member's pgha.yaml (its witness and cluster are used).

        list     every member the log names: role, health, addresses, failover settings
        remove   records NodeLeft: NODE's agent stops its PostgreSQL and exits with a message saying it
                 was removed, the primary drops NODE's replication slot, the other agents stop hearing
                 it; started again, its agent refuses to run until it is added back. Refused for the
                 primary (switch over first), an unknown node, a node taking part in a failover or a
                 switchover, and — without --force — the last replica that could take over from the
                 primary (the cluster would be left without automatic failover).
        add      records NodeJoined for the node NODE_FILE describes (node.name, node.host,
                 node.port, node.gossip_port, failover_priority, nofailover). A new node does not need
                 it: its 'pgha run' joins by itself. Use it to bring back a node that was removed,
                 then start its agent; with an empty node.data_dir it takes a base backup first.

        Exit 0 when done, 1 with one line when refused (nothing is recorded then).

        examples:
          pgha member list --config /etc/pgha/pgha.yaml
          pgha member remove n4 --config /etc/pgha/pgha.yaml --reason "decommissioned"
          pgha member add --config /etc/pgha/n4.yaml && pgha run --config /etc/pgha/n4.yaml
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var verb = arguments.Count > 0 && !arguments[0].StartsWith('-') ? arguments[0] : null;
        var cli = CommandLine.Parse($"pgha member {verb}".TrimEnd(), verb is null ? arguments : arguments.Skip(1).ToList(), ["--config", "--reason"], ["--force"]);
        if (cli.Has("--help") || verb is null)
        {
            output.WriteLine(Help);
            return verb is null && !cli.Has("--help") ? 2 : 0;
        }
        var path = cli.Value("--config") ?? throw new UsageError($"pgha member {verb} needs --config FILE (a member's pgha.yaml)");
        switch (verb)
        {
            case "list":
                cli.NoPositionals();
                return await ListAsync(PghaConfig.Load(path), output, cancellationToken);
            case "remove":
                if (cli.Positionals.Count != 1) throw new UsageError("pgha member remove needs exactly one NODE (pgha member remove NODE --config FILE)");
                return await RemoveAsync(PghaConfig.Load(path), cli.Positionals[0], cli.Value("--reason") ?? "removed by an operator", cli.Has("--force"), output, cancellationToken);
            case "add":
                cli.NoPositionals();
                return await AddAsync(PghaConfig.Load(path), path, output, cancellationToken);
            default:
                throw new UsageError($"unknown member command '{verb}'; expected list, remove or add (see 'pgha member --help')");
        }
    }

    private static async Task<int> ListAsync(PghaConfig config, TextWriter output, CancellationToken cancellationToken)
    {
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var state = await witness.StateAsync(config.Cluster, cancellationToken);
        output.WriteLine($"cluster {config.Cluster} at version {state.Version}: {state.Nodes.Count} member(s), primary {state.Primary ?? "none"}");
        var table = TextTable.Render(["NODE", "ROLE", "HEALTH", "ADDRESS", "GOSSIP", "FAILOVER", "NOTE"], state.Nodes.Values.Select(n => (IReadOnlyList<string>)
        [
            n.Name,
            n.Role.ToString().ToLowerInvariant(),
            n.Health.ToString().ToLowerInvariant(),
            $"{n.Host}:{n.Port.ToString(CultureInfo.InvariantCulture)}",
            n.GossipPort > 0 ? n.GossipPort.ToString(CultureInfo.InvariantCulture) : "-",
            n.NoFailover ? "nofailover" : $"priority {n.FailoverPriority.ToString(CultureInfo.InvariantCulture)}",
            n.Detached ? $"detached ({n.DetachedReason})" : "",
        ]));
        foreach (var line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries)) output.WriteLine(line.TrimEnd());
        return 0;
    }

    private static async Task<int> RemoveAsync(PghaConfig config, string node, string reason, bool force, TextWriter output, CancellationToken cancellationToken)
    {
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var state = await witness.StateAsync(config.Cluster, cancellationToken);
        if (!force && LastCandidateProblem(state, node) is { } last) throw new EventRejectedError(config.Cluster, nameof(NodeLeft), last);
        var by = Initiator.User(Environment.UserName);
        var after = await witness.AppendCheckedAsync(config.Cluster, new NodeLeft(node, reason) { By = by, CorrelationId = $"remove-{node}-{Guid.NewGuid():n}"[..24] }, cancellationToken);
        output.WriteLine($"cluster {config.Cluster}: {node} removed at version {after.Version} ({reason}): its agent stops its PostgreSQL and exits; " +
            $"the primary {after.Primary ?? "(none now)"} drops its replication slot; members now {string.Join(", ", after.Nodes.Keys)}");
        return 0;
    }

    /// <summary>
    /// Removing the last replica that could be promoted leaves the primary without a successor: refused
    /// unless forced (an operator shrinking a cluster to one node means it). A node that cannot be
    /// promoted anyway (nofailover) may always go; so may the primary's check be left to the log (refused there).
    /// </summary>
    public static string? LastCandidateProblem(ClusterState state, string node)
    {
        if (!state.Nodes.TryGetValue(node, out var leaving) || node == state.Primary || state.Primary is null || leaving.NoFailover) return null;
        var others = state.Nodes.Values.Where(n => n.Name != node && n.Name != state.Primary).ToList();
        if (others.Any(n => !n.NoFailover)) return null;
        return $"{node} is the last replica that could take over from the primary {state.Primary}" +
            (others.Count > 0 ? $" ({string.Join(", ", others.Select(n => n.Name))} {(others.Count == 1 ? "has" : "have")} nofailover)" : "") +
            $": without it cluster {state.Cluster} has no automatic failover; add --force to remove it anyway";
    }

    private static async Task<int> AddAsync(PghaConfig config, string path, TextWriter output, CancellationToken cancellationToken)
    {
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var state = await witness.StateAsync(config.Cluster, cancellationToken);
        if (state.Nodes.TryGetValue(config.Node.Name, out var member))
        {
            if (member.Host != config.Node.Host || member.Port != config.Node.Port)
                throw new EventRejectedError(config.Cluster, nameof(NodeJoined), $"{config.Node.Name} is already a member at {member.Host}:{member.Port}, not {config.Node.Host}:{config.Node.Port}");
            output.WriteLine($"cluster {config.Cluster}: {config.Node.Name} is already a member ({member.Host}:{member.Port}); start its agent with 'pgha run --config {path}'");
            return 0;
        }
        var after = await ClusterMembership.RecordJoinAsync(witness, config, Initiator.User(Environment.UserName), cancellationToken);
        output.WriteLine($"cluster {config.Cluster}: {config.Node.Name} joined at version {after.Version} ({config.Node.Host}:{config.Node.Port}); " +
            $"start its agent with 'pgha run --config {path}' (with an empty node.data_dir it takes a base backup from the primary {after.Primary ?? "once there is one"})");
        return 0;
    }
}
