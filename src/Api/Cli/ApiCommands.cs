using System.Text.Json;
using HA.Core.Errors;

namespace HA.Api.Cli;

/// <summary>
/// The read commands of the CLI, each one call to a node's HTTP API (docs/api.md): <c>pgha status</c>,
/// <c>nodes list|info</c>, <c>members</c>, <c>lease</c>, <c>directives</c>, <c>history</c>,
/// <c>explain</c> and <c>watch</c>. Tables by default, the API's JSON with <c>--json</c>.
/// </summary>
public static class ApiCommands
{
    public static readonly string[] Names = ["status", "nodes", "members", "lease", "directives", "history", "explain", "watch"];

    public static string Help(string command) => command switch
    {
        "status" => """
            pgha status — the cluster at a glance: primary, coordinator, nodes up and down, paused, lease

            usage: pgha status [--url URL] [--json]

            examples:
              pgha status
              pgha status --url http://10.0.0.11:8008 --json
            """,
        "nodes" => """
            pgha nodes — every node's role, state, timeline, positions and lag

            usage: pgha nodes list [--url URL] [--json]
                   pgha nodes info NODE [--url URL] [--json]
                   pgha nodes detach|attach|reinitialize NODE [--reason TEXT] [--url URL] [--token TOKEN]
                   pgha nodes promote NODE [--allow-data-loss] [--force] [--url URL] [--token TOKEN]

            detach, attach, reinitialize and promote are the changes of pgha detach, attach,
            reinitialize and failover --to (see their --help); they need the token.

            examples:
              pgha nodes list
              pgha nodes info n2 --json
              pgha nodes detach n3 --reason "disk swap"
              pgha nodes promote n2 --force
            """,
        "members" => """
            pgha members — the gossip view of the node answering: each peer's last heartbeat and its age

            usage: pgha members [--url URL] [--json]
            """,
        "lease" => """
            pgha lease — who holds the coordinator and primary leases, their fencing tokens and expiry

            usage: pgha lease [--url URL] [--json]
            """,
        "directives" => """
            pgha directives — directives the coordinator issued and their outcome

            usage: pgha directives [--node NODE] [--kind KIND] [--limit N] [--url URL] [--json]

            examples:
              pgha directives --node n2
              pgha directives --kind PROMOTE --limit 5
            """,
        "history" => """
            pgha history — the cluster's recorded events, oldest first; or the cluster as it was at a time

            usage: pgha history [--since TIME] [--until TIME] [--node NODE] [--type TYPE[,TYPE]] [--limit N] [--after-version N] [--url URL] [--json]
                   pgha history --at TIME|--version N [--url URL] [--json]

            TIME is ISO 8601 (2026-11-25T03:12:00Z) or a duration back from now (10m, 2h, 1d).
            Events come a page at a time (--limit, default 100); the next page starts after the version
            printed at the end (--after-version N).

            examples:
              pgha history --since 1h --type primary_changed
              pgha history --node n2 --limit 20
              pgha history --at 2026-11-25T03:12:00Z
            """,
        "explain" => """
            pgha explain — the story of one failover or switchover: what was seen, who was considered and why the winner won

            usage: pgha explain FAILOVER_ID [--url URL] [--json]

            FAILOVER_ID is the correlation id printed by pgha history (e.g. failover-3f2a…).

            example:
              pgha explain failover-3f2a9c1b
            """,
        "watch" => """
            pgha watch — print the cluster's events as they are recorded, until interrupted (Ctrl-C);
            reconnects by itself and resumes after the last event it printed

            usage: pgha watch [--since-version N] [--url URL] [--json]
            """,
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    } + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(string command, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        string[] extra = command switch
        {
            "directives" => ["--node", "--kind", "--limit"],
            "history" => ["--since", "--until", "--node", "--type", "--limit", "--after-version", "--at", "--version"],
            "watch" => ["--since-version"],
            _ => [],
        };
        var cli = CommandLine.Parse($"pgha {command}", arguments, [.. ApiClient.ValueOptions, .. extra], ["--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help(command)); return 0; }
        using var api = ApiClient.From(cli);
        if (command == "watch")
        {
            cli.NoPositionals();
            return await WatchAsync(api, cli, output, cancellationToken);
        }
        var path = command switch
        {
            "status" => NoArguments(cli, "api/v1/status"),
            "nodes" => NodesPath(cli),
            "members" => NoArguments(cli, "api/v1/members"),
            "lease" => NoArguments(cli, "api/v1/lease"),
            "directives" => NoArguments(cli, "api/v1/directives" + Query(cli, ("node", "--node"), ("kind", "--kind"), ("limit", "--limit"))),
            "history" => HistoryPath(cli),
            _ => ExplainPath(cli),
        };
        var answer = await api.GetAsync(path, cancellationToken);
        output.Write(cli.Has("--json") ? JsonSerializer.Serialize(answer, Indented) + "\n"
            : path.StartsWith("api/v1/events", StringComparison.Ordinal) ? EventList(answer) : JsonView.Render(answer));
        return 0;
    }

    /// <summary>A page of events for people: one line each (as <c>pgha watch</c> prints them), then how to get the next page.</summary>
    public static string EventList(JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Array) return JsonView.Render(answer);
        var text = new System.Text.StringBuilder();
        foreach (var e in events.EnumerateArray()) text.Append(EventText(e.GetRawText())).Append('\n');
        if (events.GetArrayLength() == 0) text.Append("(no events)\n");
        if (answer.TryGetProperty("next_after_version", out var next) && next.ValueKind == JsonValueKind.Number)
            text.Append("more: add --after-version ").Append(next.GetRawText()).Append(" for the next page\n");
        return text.ToString();
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static string NoArguments(CommandLine cli, string path)
    {
        cli.NoPositionals();
        return path;
    }

    private static string NodesPath(CommandLine cli) => cli.Positionals switch
    {
        [] or ["list"] => "api/v1/nodes",
        ["info", var node] => $"api/v1/nodes/{Uri.EscapeDataString(node)}",
        ["info"] => throw new UsageError("pgha nodes info needs the node's name: pgha nodes info NODE"),
        [var verb, ..] when verb is "list" or "info" => throw new UsageError($"unexpected argument '{cli.Positionals[^1]}' for 'pgha nodes {verb}'; see 'pgha nodes --help'"),
        [var other, ..] => throw new UsageError($"unknown nodes command '{other}'; use pgha nodes list or pgha nodes info NODE"),
    };

    private static string HistoryPath(CommandLine cli)
    {
        cli.NoPositionals();
        if (cli.Has("--at") || cli.Has("--version"))
        {
            if (cli.Has("--at") && cli.Has("--version")) throw new UsageError("pgha history takes --at or --version, not both");
            if (new[] { "--since", "--until", "--node", "--type", "--limit", "--after-version" }.FirstOrDefault(cli.Has) is { } other)
                throw new UsageError($"pgha history {(cli.Has("--at") ? "--at" : "--version")} shows the cluster at one moment; {other} belongs to the event list");
            var at = cli.Value("--at") is { } time ? Time(time, "--at") : null;
            var version = cli.Has("--version") ? cli.Integer("--version", 0, int.MaxValue)?.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            return "api/v1/cluster/state" + QueryOf(("at", at), ("version", version));
        }
        cli.Integer("--limit", 1, 1000);
        cli.Integer("--after-version", 0, int.MaxValue);
        return "api/v1/events" + QueryOf(
            ("since", cli.Value("--since") is { } since ? Time(since, "--since") : null),
            ("until", cli.Value("--until") is { } until ? Time(until, "--until") : null),
            ("node", cli.Value("--node")), ("type", cli.Value("--type")), ("limit", cli.Value("--limit")), ("after_version", cli.Value("--after-version")));
    }

    private static string ExplainPath(CommandLine cli) => cli.Positionals switch
    {
        [var id] => $"api/v1/failovers/{Uri.EscapeDataString(id)}",
        [] => throw new UsageError("pgha explain needs a failover id (see pgha history --type failover_started)"),
        _ => throw new UsageError($"unexpected argument '{cli.Positionals[1]}' for 'pgha explain'; it takes one failover id"),
    };

    /// <summary>A time as ISO 8601 (kept as given) or a duration back from now (10m, 2h, 1d) turned into one.</summary>
    public static string Time(string text, string option)
    {
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
            return at.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        var days = text.EndsWith('d') && double.TryParse(text[..^1], System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var d) ? TimeSpan.FromDays(d) : (TimeSpan?)null;
        if ((HA.Api.Config.PghaConfig.ParseDuration(text) ?? days) is { } back)
            return (DateTimeOffset.UtcNow - back).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        throw new UsageError($"{option} '{text}' is neither a time (2026-11-25T03:12:00Z) nor a duration back from now (10m, 2h, 1d)");
    }

    private static string Query(CommandLine cli, params (string Name, string Option)[] pairs) =>
        QueryOf(pairs.Select(p => (p.Name, cli.Value(p.Option))).ToArray());

    private static string QueryOf(params (string Name, string? Value)[] pairs)
    {
        var given = pairs.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? "" : "?" + string.Join("&", given);
    }

    /// <summary>
    /// Follows <c>GET /api/v1/events/stream</c> (Server-Sent Events): prints each event as one line (or
    /// its JSON with --json) and, when the stream breaks, connects again with the last id it printed.
    /// </summary>
    private static async Task<int> WatchAsync(ApiClient api, CommandLine cli, TextWriter output, CancellationToken cancellationToken)
    {
        string? lastId = cli.Integer("--since-version", 0, int.MaxValue)?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var json = cli.Has("--json");
        var failures = 0;
        while (true)
        {
            try
            {
                using var response = await api.OpenStreamAsync("api/v1/events/stream", lastId, cancellationToken);
                failures = 0;
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                using var reader = new StreamReader(body);
                string? id = null;
                var data = new System.Text.StringBuilder();
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.Length == 0)
                    {
                        if (data.Length > 0)
                        {
                            output.WriteLine(json ? data.ToString() : EventText(data.ToString()));
                            await output.FlushAsync(cancellationToken);
                            if (id is not null) lastId = id;
                        }
                        data.Clear();
                        id = null;
                        continue;
                    }
                    if (line.StartsWith(':')) continue; // a comment: the server's keep-alive
                    var colon = line.IndexOf(':');
                    var field = colon < 0 ? line : line[..colon];
                    var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
                    if (field == "id") id = value;
                    else if (field == "data") data.Append(data.Length > 0 ? "\n" : "").Append(value);
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException or ApiUnreachable && !cancellationToken.IsCancellationRequested)
            {
                // The node went away (restarted, failed over): try again, from the last event printed.
                if (++failures == 1) await Console.Error.WriteLineAsync($"pgha watch: stream from {api.BaseUrl} broke ({e.GetBaseException().Message}); reconnecting");
            }
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, 1 << Math.Min(failures, 3))), cancellationToken);
        }
    }

    /// <summary>An event's one line: the API's own <c>line</c> when it sends one, else version, time, type and the rest compact.</summary>
    public static string EventText(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return data;
            if (root.TryGetProperty("line", out var line) && line.ValueKind == JsonValueKind.String) return line.GetString()!;
            var parts = new[] { "version", "at", "type" }.Where(k => root.TryGetProperty(k, out _)).Select(k => JsonView.Cell(root.GetProperty(k)));
            return string.Join("  ", parts.Append(root.GetRawText()));
        }
        catch (JsonException)
        {
            return data;
        }
    }
}
