using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha failover --to NODE</c> and <c>pgha nodes promote NODE</c>: a manual failover when the primary
/// is gone, asked of a node's API (<see cref="FailoverRequest"/>), which waits for the outcome.
/// </summary>
public static class FailoverCommand
{
    public const string Help = """
        pgha failover — promote a named node when the primary is gone

        usage: pgha failover --to NODE [--allow-data-loss] [--force] [--timeout 60s]     POST /api/v1/cluster/failover
               pgha nodes promote NODE [--allow-data-loss] [--force] [--timeout 60s]     POST /api/v1/nodes/NODE/promote

        The old primary is fenced (or its lease waited for) before NODE is promoted, as in an automatic
        failover. Refused with the reason when the primary is healthy (use pgha switchover), when NODE is
        unknown, detached, the primary, not a healthy standby, or behind the others or beyond
        maximum_lag_on_failover — unless --allow-data-loss says to promote it anyway; while the cluster
        is paused, unless --force. The command waits for the outcome (--timeout; exit 1 if it elapses,
        the failover goes on).

        examples:
          pgha failover --to n3
          pgha failover --to n3 --force --config /etc/pgha/pgha.yaml      # the cluster is paused
          pgha nodes promote n2 --allow-data-loss --url http://10.0.0.12:8008
        """ + "\n" + ApiClient.OptionsHelp;

    public static Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken) =>
        RunAsync("pgha failover", null, arguments, output, cancellationToken);

    /// <param name="node">the node of <c>pgha nodes promote NODE</c>; null for <c>pgha failover --to NODE</c></param>
    public static async Task<int> RunAsync(string command, string? node, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        string[] options = node is null ? [.. ApiClient.ValueOptions, "--to", "--timeout"] : [.. ApiClient.ValueOptions, "--timeout"];
        var cli = CommandLine.Parse(command, arguments, options, ["--allow-data-loss", "--force", "--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var to = node ?? cli.Value("--to") ?? throw new UsageError("pgha failover needs --to NODE");
        var timeout = cli.Value("--timeout") is { } t ? SwitchoverCommand.ParseDuration(t, "--timeout") : TimeSpan.FromSeconds(60);
        var wait = "?wait=" + SwitchoverCommand.WaitText(timeout);
        using var api = ApiClient.From(cli);
        var (path, body) = node is null
            ? ("api/v1/cluster/failover" + wait, (object)new { to, allow_data_loss = cli.Has("--allow-data-loss"), force = cli.Has("--force") })
            : ($"api/v1/nodes/{Uri.EscapeDataString(to)}/promote" + wait, new { allow_data_loss = cli.Has("--allow-data-loss"), force = cli.Has("--force") });
        var answer = await api.PostAsync(path, body, cancellationToken, timeout + TimeSpan.FromSeconds(30));
        return SwitchoverCommand.Finished(output, answer, cli.Has("--json"));
    }
}
