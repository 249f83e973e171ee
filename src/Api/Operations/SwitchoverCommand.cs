using System.Globalization;
using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha switchover</c>: asks the coordinator to move the primary to a named replica, now or at a
/// time, or cancels a scheduled one. The request is an event (SwitchoverRequested) checked against
/// the cluster's state before it is recorded; the coordinator then runs the switchover and records
/// how it went. Until the REST API lands (issue 9) the command reaches the witness store named by a
/// node's pgha.yaml.
/// </summary>
public static class SwitchoverCommand
{
    public const string Help = """
        pgha switchover — move the primary to a replica on purpose, without losing a write

        usage: pgha switchover --config FILE --to NODE [--at TIME] [--timeout 60s]
               pgha switchover --config FILE --cancel

        The primary is checkpointed and demoted cleanly; once NODE has replayed its last write NODE is
        promoted and the old primary follows it as a replica (no rewind). Writes pause meanwhile.
        Refused, with the reason, when NODE is unknown, the primary already, detached, not a healthy
        replica, lagging beyond switchover.max_lag, or when a switchover or failover is under way.

        options:
          --to NODE        the replica to promote
          --at TIME        schedule it: an ISO 8601 time (2026-11-25T03:00:00Z) or +DURATION (+10m)
          --timeout D      how long to wait for the outcome (default 60s); the switchover goes on if it elapses
          --cancel         cancel a scheduled switchover that has not started
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var cli = CommandLine.Parse("pgha switchover", arguments, ["--config", "--to", "--at", "--timeout"], ["--cancel"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var path = cli.Value("--config") ?? throw new UsageError("pgha switchover needs --config FILE (a member's pgha.yaml)");
        var config = PghaConfig.Load(path);
        var by = Initiator.User(Environment.UserName);
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var state = await witness.StateAsync(config.Cluster, cancellationToken);

        if (cli.Has("--cancel"))
        {
            if (cli.Value("--to") is not null || cli.Value("--at") is not null) throw new UsageError("--cancel takes no --to or --at");
            var running = state.Switchover ?? throw new OperatorError($"cluster {config.Cluster}: no switchover is scheduled or running");
            await witness.AppendCheckedAsync(config.Cluster, new SwitchoverFailed(running.Id, $"cancelled by {by}") { By = by, CorrelationId = running.Id }, cancellationToken);
            output.WriteLine($"cluster {config.Cluster}: switchover {running.Id} from {running.From} to {running.To} cancelled");
            return 0;
        }

        var to = cli.Value("--to") ?? throw new UsageError("pgha switchover needs --to NODE (or --cancel)");
        var at = cli.Value("--at") is { } when ? ParseTime(when) : (DateTimeOffset?)null;
        var timeout = cli.Value("--timeout") is { } t ? ParseDuration(t, "--timeout") : TimeSpan.FromSeconds(60);
        var id = "switchover-" + Guid.NewGuid().ToString("n")[..8];
        var recorded = await witness.AppendCheckedAsync(config.Cluster, new SwitchoverRequested(id, state.Primary ?? "", to, at) { By = by, CorrelationId = id }, cancellationToken);
        if (at is { } scheduled && scheduled > DateTimeOffset.UtcNow)
        {
            output.WriteLine($"cluster {config.Cluster}: switchover {id} from {state.Primary} to {to} scheduled at {scheduled.ToString("O", CultureInfo.InvariantCulture)} (version {recorded.Version}); cancel with pgha switchover --cancel");
            return 0;
        }

        output.WriteLine($"cluster {config.Cluster}: switchover {id} from {state.Primary} to {to} requested");
        return await OutcomeWatch.UntilAsync(witness, config.Cluster, new HistoryFilter { CorrelationId = id }, timeout, e => e switch
        {
            SwitchoverCompleted done => Print(output, $"switchover {id}: {done.To} is the primary; writes paused {done.WritePause?.TotalMilliseconds ?? 0:0} ms; took {done.Duration.TotalSeconds:0.00} s"),
            SwitchoverFailed failed => throw new OperatorError($"switchover {id} failed: {failed.Reason}"),
            _ => null,
        }, $"switchover {id} did not finish within {timeout.TotalSeconds:0} s; it goes on: see the cluster's history (correlation id {id})", cancellationToken);
    }

    /// <summary>Prints the outcome; exit code 0.</summary>
    internal static int Print(TextWriter output, string line)
    {
        output.WriteLine(line);
        return 0;
    }

    private static DateTimeOffset ParseTime(string text)
    {
        if (text.StartsWith('+')) return DateTimeOffset.UtcNow + ParseDuration(text[1..], "--at");
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : throw new UsageError($"--at '{text}' is neither an ISO 8601 time (2026-11-25T03:00:00Z) nor +DURATION (+10m)");
    }

    internal static TimeSpan ParseDuration(string text, string option) =>
        PghaConfig.ParseDuration(text) is { } span && span > TimeSpan.Zero
            ? span
            : throw new UsageError($"{option} '{text}' is not a duration (use 500ms, 30s, 10m or 1h)");
}
