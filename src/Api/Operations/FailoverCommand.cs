using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha failover --to NODE</c>: a manual failover when the primary is gone. Recorded as
/// FailoverRequested (checked first: unknown or detached node, the primary itself, a failover or
/// switchover under way, a paused cluster without --force are refused); the coordinator then refuses
/// it with the reason (a healthy primary, a node that cannot be promoted, or one that is behind without
/// --allow-data-loss) or runs the ordinary failover sequence to that node.
/// </summary>
public static class FailoverCommand
{
    public const string Help = """
        pgha failover — promote a named node when the primary is gone

        usage: pgha failover --config FILE --to NODE [--allow-data-loss] [--force] [--timeout 60s]

        The old primary is fenced (or its lease waited for) before NODE is promoted, as in an automatic
        failover. Refused with the reason when the primary is healthy (use pgha switchover), when NODE is
        unknown, detached, the primary, not a healthy standby, or behind the others or beyond
        maximum_lag_on_failover — unless --allow-data-loss says to promote it anyway; while the cluster
        is paused, unless --force.
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var cli = CommandLine.Parse("pgha failover", arguments, ["--config", "--to", "--timeout"], ["--allow-data-loss", "--force"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var path = cli.Value("--config") ?? throw new UsageError("pgha failover needs --config FILE (a member's pgha.yaml)");
        var to = cli.Value("--to") ?? throw new UsageError("pgha failover needs --to NODE");
        // The same duration syntax as everywhere (the help says --timeout 60s).
        var timeout = cli.Value("--timeout") is { } t ? SwitchoverCommand.ParseDuration(t, "--timeout") : TimeSpan.FromSeconds(60);
        var config = PghaConfig.Load(path);
        var by = Initiator.User(Environment.UserName);
        var id = "failover-" + Guid.NewGuid().ToString("n")[..8];
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var requested = await witness.AppendCheckedAsync(config.Cluster,
            new FailoverRequested(id, to, cli.Has("--allow-data-loss"), cli.Has("--force")) { By = by, CorrelationId = id }, cancellationToken);
        output.WriteLine($"cluster {config.Cluster}: failover {id} to {to} requested");

        string? started = null;
        return await OutcomeWatch.UntilAsync(witness, config.Cluster, new HistoryFilter { AfterVersion = requested.Version - 1 }, timeout, e =>
        {
            switch (e)
            {
                case FailoverFailed refused when refused.FailoverId == id:
                    throw new OperatorError($"failover {id} refused: {refused.Reason}");
                case FailoverStarted s when s.Candidate == to && started is null:
                    started = s.FailoverId;
                    break;
                case FailoverCompleted done when done.FailoverId == started:
                    return SwitchoverCommand.Print(output, $"failover {started}: {to} is the primary of term {done.Term}; took {done.Duration.TotalSeconds:0.00} s");
                case FailoverFailed failed when failed.FailoverId == started:
                    throw new OperatorError($"failover {started} to {to} failed: {failed.Reason}");
            }
            return null;
        }, $"failover {id} did not finish within {timeout.TotalSeconds:0} s; see the cluster's history", cancellationToken);
    }
}
