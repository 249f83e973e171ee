using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Projections;

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

        usage: pgha restart --rolling --config FILE [--reason TEXT] [--timeout 10m]
               pgha restart --cancel --config FILE

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
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var cli = CommandLine.Parse("pgha restart", arguments, ["--config", "--reason", "--timeout"], ["--rolling", "--cancel"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        if (!cli.Has("--rolling") && !cli.Has("--cancel")) throw new UsageError("pgha restart needs --rolling: pgha restarts nodes only one at a time, the primary by a switchover (see 'pgha restart --help')");
        if (cli.Has("--rolling") && cli.Has("--cancel")) throw new UsageError("pgha restart takes --rolling or --cancel, not both");
        var path = cli.Value("--config") ?? throw new UsageError("pgha restart needs --config FILE (a member's pgha.yaml)");
        var timeout = cli.Value("--timeout") is { } t ? SwitchoverCommand.ParseDuration(t, "--timeout") : TimeSpan.FromMinutes(10);
        var config = PghaConfig.Load(path);
        var by = Initiator.User(Environment.UserName);
        var id = "restart-" + Guid.NewGuid().ToString("n")[..8];
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        if (cli.Has("--cancel"))
        {
            var running = (await witness.StateAsync(config.Cluster, cancellationToken)).RollingRestart
                ?? throw new OperatorError($"cluster {config.Cluster}: no rolling restart is in progress");
            await witness.AppendCheckedAsync(config.Cluster, new RollingRestartFailed(running.Id, $"cancelled by {by}") { By = by, CorrelationId = running.Id }, cancellationToken);
            output.WriteLine($"cluster {config.Cluster}: rolling restart {running.Id} cancelled (restarted so far: {(running.Restarted.Count == 0 ? "none" : string.Join(", ", running.Restarted))})");
            return 0;
        }
        var requested = await witness.AppendCheckedAsync(config.Cluster,
            new RollingRestartRequested(id, cli.Value("--reason") ?? "parameters pending restart") { By = by, CorrelationId = id }, cancellationToken);
        var pending = requested.Nodes.Values.Where(n => !n.Detached && n.PendingRestart.Count > 0).Select(n => $"{n.Name} ({string.Join(", ", n.PendingRestart)})");
        output.WriteLine($"cluster {config.Cluster}: rolling restart {id} requested: {string.Join(", ", pending)}");

        return await OutcomeWatch.UntilAsync(witness, config.Cluster, new HistoryFilter { CorrelationId = id }, timeout, e => e switch
        {
            RollingRestartCompleted done => SwitchoverCommand.Print(output, $"rolling restart {id}: restarted {string.Join(", ", done.Restarted)} in {done.Duration.TotalSeconds:0.0} s; nothing pending a restart"),
            RollingRestartFailed failed => throw new OperatorError($"rolling restart {id} failed: {failed.Reason}"),
            _ => null,
        }, $"rolling restart {id} did not finish within {timeout.TotalSeconds:0} s; it goes on: see pgha config show and the cluster's history (correlation id {id})", cancellationToken);
    }
}
