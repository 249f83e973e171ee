using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha pause</c> and <c>pgha resume</c>: freeze and thaw automatic failover (DESIGN §3.6);
/// <c>pgha detach</c>, <c>attach</c> and <c>reinitialize</c> (also <c>pgha nodes detach|attach|reinitialize NODE</c>):
/// take a node out of routing and candidacy and back, or take a new base backup of it. Each is one call
/// to a node's API, which records the event (<see cref="OperatorRequests"/>) naming who asked.
/// </summary>
public static class ClusterRequestCommand
{
    public const string Help = """
        pgha pause — freeze automatic failover (a lost primary is reported, nothing is promoted)
        pgha resume — let automatic failover act again
        pgha detach — take a node out of routing and candidacy for maintenance; its agent leaves its PostgreSQL alone
        pgha attach — bring a detached node back
        pgha reinitialize — throw a replica's data directory away and take a new base backup from the primary

        usage: pgha pause [--reason TEXT]                     POST /api/v1/cluster/pause
               pgha resume [--reason TEXT]                    POST /api/v1/cluster/resume
               pgha detach NODE [--reason TEXT]               POST /api/v1/nodes/NODE/detach
               pgha attach NODE                               POST /api/v1/nodes/NODE/attach
               pgha reinitialize NODE [--reason TEXT]         POST /api/v1/nodes/NODE/reinitialize
        (also pgha nodes detach|attach|reinitialize NODE, and --node NODE instead of NODE)

        Each is recorded as an event (FailoverPaused, FailoverResumed, NodeDetached, NodeAttached,
        ReinitializeRequested) naming who asked; it survives agent restarts and coordinator changes. The
        coordinator carries out a reinitialize with a REINITIALIZE directive (pg_basebackup from the
        primary) and records NodeRejoined when it is done. Refused with the reason, nothing recorded:
        already paused, not paused, unknown node, the primary, already detached, not detached, detached
        or already being reinitialized.

        examples:
          pgha pause --reason "kernel upgrade"
          pgha detach n3 --reason "disk swap" --url http://10.0.0.11:8008 --token "$PGHA_TOKEN"
          pgha reinitialize n2 --config /etc/pgha/pgha.yaml --reason "corrupt index on n2"
        """ + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(string verb, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var onNode = verb is "detach" or "attach" or "reinitialize";
        string[] options = verb == "attach" ? ["--node"] : onNode ? ["--node", "--reason"] : ["--reason"];
        var cli = CommandLine.Parse($"pgha {verb}", arguments, [.. ApiClient.ValueOptions, .. options], ["--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        string? node = null;
        if (onNode)
        {
            node = (cli.Value("--node"), cli.Positionals) switch
            {
                ({ } named, []) => named,
                (null, [var positional]) => positional,
                (null, []) => throw new UsageError($"pgha {verb} needs the node: pgha {verb} NODE"),
                _ => throw new UsageError($"pgha {verb} takes one NODE (or --node NODE)"),
            };
        }
        else
        {
            cli.NoPositionals();
        }
        var path = node is null ? $"api/v1/cluster/{verb}" : $"api/v1/nodes/{Uri.EscapeDataString(node)}/{verb}";
        using var api = ApiClient.From(cli);
        var answer = await api.PostAsync(path, cli.Value("--reason") is { } reason ? new { reason } : null, cancellationToken);
        return ApiAnswers.Print(output, answer, cli.Has("--json"));
    }
}
