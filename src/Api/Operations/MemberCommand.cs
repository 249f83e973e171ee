using System.Globalization;
using System.Text.Json;
using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.State;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha member list|remove|add</c>: the cluster's members as its log names them, through a node's API
/// like every other command. Removing records NodeLeft: the node's agent stops its PostgreSQL and exits,
/// the primary drops its replication slot, the others stop hearing it. Adding records NodeJoined for a
/// node's pgha.yaml — what its agent does by itself on a first start; needed only to bring back a node
/// that was removed.
/// </summary>
public static class MemberCommand
{
    public const string Help = """
        pgha member — list, remove or add the members of a cluster

        usage: pgha member list                                    GET /api/v1/cluster/state
               pgha member remove NODE [--reason TEXT] [--force]   DELETE /api/v1/members/NODE
               pgha member add NODE_FILE                           POST /api/v1/members

        list     every member the log names: role, health, addresses, failover settings
        remove   records NodeLeft: NODE's agent stops its PostgreSQL and exits with a message saying it
                 was removed, the primary drops NODE's replication slot, the other agents stop hearing
                 it; started again, its agent refuses to run until it is added back. Refused for the
                 primary (switch over first), an unknown node, a node taking part in a failover or a
                 switchover, and — without --force — the last replica that could take over from the
                 primary (the cluster would be left without automatic failover).
        add      records NodeJoined for the node NODE_FILE (its pgha.yaml, read here) describes:
                 node.name, node.host, node.port, node.gossip_port, failover_priority, nofailover. Its
                 own API is not running yet: the request goes to a running member (--url, $PGHA_URL or
                 --config MEMBER_FILE). A new node does not need it: its 'pgha run' joins by itself. Use
                 it to bring back a node that was removed, then start its agent; with an empty
                 node.data_dir it takes a base backup first. Already a member at that address: nothing
                 is recorded; a member of that name at another address: refused.

        remove and add need the token (--token, $PGHA_TOKEN, or api.token of --config FILE).

        examples:
          pgha member list --config /etc/pgha/pgha.yaml
          pgha member remove n4 --config /etc/pgha/pgha.yaml --reason "decommissioned"
          pgha member add /etc/pgha/n4.yaml --config /etc/pgha/pgha.yaml && pgha run --config /etc/pgha/n4.yaml
        """ + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var verb = arguments.Count > 0 && !arguments[0].StartsWith('-') ? arguments[0] : null;
        string[] extra = verb == "remove" ? ["--reason"] : [];
        string[] flags = verb == "remove" ? ["--force", "--json"] : ["--json"];
        var cli = CommandLine.Parse($"pgha member {verb}".TrimEnd(), verb is null ? arguments : arguments.Skip(1).ToList(), [.. ApiClient.ValueOptions, .. extra], flags);
        if (cli.Has("--help") || verb is null)
        {
            output.WriteLine(Help);
            return verb is null && !cli.Has("--help") ? 2 : 0;
        }
        switch (verb)
        {
            case "list":
                {
                    cli.NoPositionals();
                    using var api = ApiClient.From(cli);
                    var answer = await api.GetAsync("api/v1/cluster/state", cancellationToken);
                    if (cli.Has("--json")) return ApiAnswers.Print(output, answer, json: true);
                    List(answer, output);
                    return 0;
                }
            case "remove":
                {
                    if (cli.Positionals.Count != 1) throw new UsageError("pgha member remove needs exactly one NODE (pgha member remove NODE [--reason TEXT] [--force])");
                    using var api = ApiClient.From(cli);
                    var answer = await api.SendAsync(HttpMethod.Delete, $"api/v1/members/{Uri.EscapeDataString(cli.Positionals[0])}",
                        new { reason = cli.Value("--reason") ?? MembershipChange.DefaultRemoveReason, force = cli.Has("--force") }, cancellationToken);
                    return ApiAnswers.Print(output, answer, cli.Has("--json"));
                }
            case "add":
                {
                    if (cli.Positionals.Count != 1) throw new UsageError("pgha member add needs exactly one NODE_FILE, the new node's pgha.yaml (pgha member add NODE_FILE --config MEMBER_FILE)");
                    var file = cli.Positionals[0];
                    var node = PghaConfig.Load(file);
                    using var api = ApiClient.From(cli, fallbackToken: node.ApiToken);
                    // The node's file names its cluster: a member of another cluster must not record it.
                    var cluster = await api.GetAsync("api/v1/cluster/state", cancellationToken);
                    if (cluster.TryGetProperty("cluster", out var name) && name.GetString() is { } answering && answering != node.Cluster)
                        throw new OperatorError($"{file} is a node of cluster {node.Cluster}, but {api.BaseUrl} serves cluster {answering}: point --url or --config at a member of {node.Cluster}");
                    var answer = await api.PostAsync("api/v1/members", new
                    {
                        name = node.Node.Name,
                        host = node.Node.Host,
                        port = node.Node.Port,
                        gossip_port = node.Node.GossipPort,
                        failover_priority = node.Node.FailoverPriority,
                        nofailover = node.Node.NoFailover,
                    }, cancellationToken);
                    if (cli.Has("--json")) return ApiAnswers.Print(output, answer, json: true);
                    ApiAnswers.Print(output, answer, json: false);
                    output.WriteLine($"next: pgha run --config {file}");
                    return 0;
                }
            default:
                throw new UsageError($"unknown member command '{verb}'; expected list, remove or add (see 'pgha member --help')");
        }
    }

    /// <summary>The members as the log names them (GET /api/v1/cluster/state): one line about the cluster, then one row per member.</summary>
    private static void List(JsonElement state, TextWriter output)
    {
        var nodes = state.GetProperty("nodes").EnumerateArray().ToList();
        string Text(JsonElement e, string field) => e.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? JsonView.Cell(v) : "";
        int Number(JsonElement e, string field) => e.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        bool Flag(JsonElement e, string field) => e.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.True;
        var primary = Text(state, "primary");
        output.WriteLine($"cluster {Text(state, "cluster")} at version {Text(state, "version")}: {nodes.Count} member(s), primary {(primary.Length > 0 ? primary : "none")}");
        var table = TextTable.Render(["NODE", "ROLE", "HEALTH", "ADDRESS", "GOSSIP", "FAILOVER", "NOTE"], nodes.Select(n => (IReadOnlyList<string>)
        [
            Text(n, "name"),
            Text(n, "role"),
            Text(n, "health"),
            $"{Text(n, "host")}:{Text(n, "port")}",
            Number(n, "gossip_port") > 0 ? Number(n, "gossip_port").ToString(CultureInfo.InvariantCulture) : "-",
            Flag(n, "no_failover") ? "nofailover" : $"priority {Number(n, "failover_priority").ToString(CultureInfo.InvariantCulture)}",
            Flag(n, "detached") ? $"detached ({Text(n, "detached_reason")})" : "",
        ]));
        foreach (var line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries)) output.WriteLine(line.TrimEnd());
    }
}
