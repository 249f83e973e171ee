using System.Globalization;
using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha switchover</c>: asks a node's API to move the primary to a named replica, now or at a time
/// (POST /api/v1/cluster/switchover, <see cref="SwitchoverRequest"/>), and waits for the outcome; or
/// cancels a scheduled one (DELETE /api/v1/cluster/switchover).
/// </summary>
public static class SwitchoverCommand
{
    public const string Help = """
        pgha switchover — move the primary to a replica on purpose, without losing a write

        usage: pgha switchover --to NODE [--at TIME] [--timeout 60s]     POST /api/v1/cluster/switchover
               pgha switchover --cancel                                  DELETE /api/v1/cluster/switchover

        The primary is checkpointed and demoted cleanly; once NODE has replayed its last write NODE is
        promoted and the old primary follows it as a replica (no rewind). Writes pause meanwhile.
        Refused, with the reason and nothing recorded, when NODE is unknown, the primary already,
        detached, not a healthy replica, lagging beyond switchover.max_lag, or when a switchover or
        failover is under way.

        options:
          --to NODE        the replica to promote
          --at TIME        schedule it: an ISO 8601 time (2026-11-25T03:00:00Z) or +DURATION (+10m)
          --timeout D      how long to wait for the outcome (default 60s); the switchover goes on if it elapses (exit 1)
          --cancel         cancel a scheduled switchover that has not started

        examples:
          pgha switchover --to n2
          pgha switchover --to n2 --at +10m --url http://10.0.0.11:8008 --token "$PGHA_TOKEN"
          pgha switchover --cancel --config /etc/pgha/pgha.yaml
        """ + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var cli = CommandLine.Parse("pgha switchover", arguments, [.. ApiClient.ValueOptions, "--to", "--at", "--timeout"], ["--cancel", "--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        if (cli.Has("--cancel"))
        {
            if (cli.Value("--to") is not null || cli.Value("--at") is not null) throw new UsageError("--cancel takes no --to or --at");
            using var canceller = ApiClient.From(cli);
            return ApiAnswers.Print(output, await canceller.DeleteAsync("api/v1/cluster/switchover", cancellationToken), cli.Has("--json"));
        }
        var to = cli.Value("--to") ?? throw new UsageError("pgha switchover needs --to NODE (or --cancel)");
        var at = cli.Value("--at") is { } when ? ParseTime(when) : (DateTimeOffset?)null;
        var timeout = cli.Value("--timeout") is { } t ? ParseDuration(t, "--timeout") : TimeSpan.FromSeconds(60);
        using var api = ApiClient.From(cli);
        var answer = await api.PostAsync($"api/v1/cluster/switchover?wait={WaitText(timeout)}",
            new { to, at = at?.ToString("O", CultureInfo.InvariantCulture) }, cancellationToken, timeout + TimeSpan.FromSeconds(30));
        return Finished(output, answer, cli.Has("--json"));
    }

    /// <summary>Prints an outcome the API waited for: 0 when done or scheduled; 1 when it still runs.</summary>
    internal static int Finished(TextWriter output, System.Text.Json.JsonElement answer, bool json)
    {
        if (ApiAnswers.Status(answer) == "running" && !json)
            throw new OperatorError(answer.GetProperty("message").GetString() ?? "the operation goes on");
        return ApiAnswers.Print(output, answer, json);
    }

    /// <summary>A duration as the API's ?wait= reads it (whole milliseconds).</summary>
    internal static string WaitText(TimeSpan span) => ((long)Math.Min(span.TotalMilliseconds, TimeSpan.FromMinutes(10).TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

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
