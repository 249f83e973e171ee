using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha restart --rolling</c>: applies parameters pending a restart without downtime. Recorded as
/// RollingRestartRequested (refused while paused, while a failover or switchover runs, while a node has
/// not applied the current parameters, or when nothing is pending); the coordinator then restarts the
/// replicas one at a time and switches the primary over to a restarted one.
/// </summary>
public static class RestartCommand
{
    public const string Help = """
        pgha restart --rolling — restart every node that has parameters pending a restart, without downtime

        usage: pgha restart --rolling [--reason TEXT] [--timeout 10m]     POST /api/v1/cluster/restart
               pgha restart --cancel                                     DELETE /api/v1/cluster/restart

        The replicas with parameters pending a restart are restarted one at a time, each once the one
        before streams from the primary again; then the primary is switched over to a restarted replica
        (its clean demotion restarts it, writes pause for the switchover only) and asked what is still
        pending. Refused, with the reason, while the cluster is paused, while a failover or switchover
        runs, while a node has not applied the current parameters yet, or when no node has anything pending.
        The command waits for the outcome (--timeout, default 10m; the restart goes on if it elapses).
        --cancel stops a rolling restart after the step under way (a node being restarted finishes).

        example:
          pgha config set max_connections=300 --config /etc/pgha/pgha.yaml
          pgha restart --rolling --config /etc/pgha/pgha.yaml
        """ + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var cli = CommandLine.Parse("pgha restart", arguments, [.. ApiClient.ValueOptions, "--reason", "--timeout"], ["--rolling", "--cancel", "--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        if (!cli.Has("--rolling") && !cli.Has("--cancel")) throw new UsageError("pgha restart needs --rolling: pgha restarts nodes only one at a time, the primary by a switchover (see 'pgha restart --help')");
        if (cli.Has("--rolling") && cli.Has("--cancel")) throw new UsageError("pgha restart takes --rolling or --cancel, not both");
        var timeout = cli.Value("--timeout") is { } t ? SwitchoverCommand.ParseDuration(t, "--timeout") : TimeSpan.FromMinutes(10);
        using var api = ApiClient.From(cli);
        if (cli.Has("--cancel")) return ApiAnswers.Print(output, await api.DeleteAsync("api/v1/cluster/restart", cancellationToken), cli.Has("--json"));
        var answer = await api.PostAsync($"api/v1/cluster/restart?wait={SwitchoverCommand.WaitText(timeout)}",
            new { reason = cli.Value("--reason") }, cancellationToken, timeout + TimeSpan.FromSeconds(30));
        return SwitchoverCommand.Finished(output, answer, cli.Has("--json"));
    }
}
