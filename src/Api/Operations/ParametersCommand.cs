using System.Globalization;
using System.Text.Json;
using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha config set|reset|show</c>: the cluster-wide PostgreSQL parameters, kept in the event log
/// (DESIGN §10), not in any file — through a node's API (PATCH and GET /api/v1/cluster/postgresql),
/// which checks a change against <c>pg_settings</c> and records it (<see cref="ParameterChange"/>).
/// </summary>
public static class ParametersCommand
{
    public const string Help = """
        pgha config set — set cluster-wide PostgreSQL parameters on every node
        pgha config reset — stop setting them (each node returns to its configuration file's value or the default)
        pgha config show — the cluster's parameters and, per node, whether it applied them and what waits for a restart

        usage: pgha config set NAME=VALUE [NAME=VALUE ...] [--reason TEXT]     PATCH /api/v1/cluster/postgresql {"NAME": "VALUE"}
               pgha config reset NAME [NAME ...] [--reason TEXT]               PATCH /api/v1/cluster/postgresql {"NAME": null}
               pgha config show [--json]                                       GET /api/v1/cluster/postgresql

        Values are checked against pg_settings of a reachable member (the primary first) before anything
        is recorded: an unknown parameter, a value PostgreSQL would refuse (a boolean, a number within its
        bounds with a unit it accepts, one of an enum's values) or a parameter pgha manages itself (port,
        listen_addresses, wal_level, hot_standby, primary_conninfo, synchronous_standby_names, ...) is
        refused with the reason, and then nothing is recorded. The change is one event; every node's agent
        applies it with ALTER SYSTEM and a reload. Parameters that need a restart (max_connections,
        shared_buffers, ...) are reported pending on each node until `pgha restart --rolling` restarts them.
        Exit 0 when recorded (or nothing to change), 1 with one line when refused, 2 on a usage error.

        examples:
          pgha config set work_mem=64MB log_min_duration_statement=250ms
          pgha config set max_connections=300 --config /etc/pgha/pgha.yaml --reason "more app servers"
          pgha restart --rolling --config /etc/pgha/pgha.yaml
          pgha config reset work_mem --url http://10.0.0.11:8008 --token "$PGHA_TOKEN"
          pgha config show --json
        """ + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(string verb, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var show = verb == "show";
        var cli = CommandLine.Parse($"pgha config {verb}", arguments, show ? ApiClient.ValueOptions : [.. ApiClient.ValueOptions, "--reason"], ["--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        if (show)
        {
            cli.NoPositionals();
            using var reader = ApiClient.From(cli);
            var current = await reader.GetAsync("api/v1/cluster/postgresql", cancellationToken);
            output.Write(cli.Has("--json") ? JsonSerializer.Serialize(current, new JsonSerializerOptions { WriteIndented = true }) + "\n" : Text(current));
            return 0;
        }
        var body = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, value) in Requested(verb, cli.Positionals)) body[name] = value;
        if (cli.Value("--reason") is { } reason) body["reason"] = reason;
        using var api = ApiClient.From(cli);
        return ApiAnswers.Print(output, await api.PatchAsync("api/v1/cluster/postgresql", body, cancellationToken), cli.Has("--json"));
    }

    /// <summary>NAME=VALUE words for set, NAME words for reset; anything else is a usage error.</summary>
    private static List<KeyValuePair<string, string?>> Requested(string verb, IReadOnlyList<string> words)
    {
        if (words.Count == 0) throw new UsageError(verb == "set" ? "pgha config set needs at least one NAME=VALUE (pgha config set work_mem=64MB)" : "pgha config reset needs at least one parameter NAME");
        var requested = new List<KeyValuePair<string, string?>>();
        foreach (var word in words)
        {
            var equals = word.IndexOf('=', StringComparison.Ordinal);
            if (verb == "set")
            {
                if (equals <= 0) throw new UsageError($"'{word}' is not NAME=VALUE (pgha config set work_mem=64MB)");
                requested.Add(new(word[..equals], word[(equals + 1)..]));
            }
            else
            {
                if (equals >= 0) throw new UsageError($"pgha config reset takes parameter names, not '{word}'");
                requested.Add(new(word, null));
            }
            if (requested[^1].Key == "reason") throw new UsageError("'reason' is not a PostgreSQL parameter; give the reason with --reason TEXT");
        }
        return requested;
    }

    /// <summary>GET /api/v1/cluster/postgresql as text: the parameters, then per node applied and pending restart.</summary>
    internal static string Text(JsonElement view)
    {
        static string S(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText() : "";
        static IEnumerable<string> List(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetString() ?? "") : [];
        var text = new System.Text.StringBuilder();
        var version = view.GetProperty("parameters_version").GetInt64();
        var parameters = view.GetProperty("parameters").EnumerateObject().Select(p => (IReadOnlyList<string>)[p.Name, p.Value.GetString() ?? ""]).ToList();
        text.Append(CultureInfo.InvariantCulture, $"cluster {S(view, "cluster")}: ");
        if (version == 0) text.Append("no parameters set through pgha\n");
        else text.Append(CultureInfo.InvariantCulture, $"parameters version {version} ({parameters.Count} set){(S(view, "changed_at") is { Length: > 0 } at ? $", changed {at}" : "")}\n");
        if (parameters.Count > 0) text.Append('\n').Append(TextTable.Render(["PARAMETER", "VALUE"], parameters));
        var nodes = view.GetProperty("nodes").EnumerateArray().ToList();
        text.Append('\n').Append(TextTable.Render(["NODE", "ROLE", "APPLIED", "PENDING RESTART"], nodes.Select(n => (IReadOnlyList<string>)
        [
            S(n, "name"),
            n.GetProperty("detached").GetBoolean() ? "detached" : S(n, "role"),
            (version == 0 ? "-" : n.GetProperty("applied").GetBoolean() ? "yes" : $"no (at version {S(n, "parameters_version")})") + (S(n, "last_error") is { Length: > 0 } error ? $"; last attempt failed: {error}" : ""),
            List(n, "pending_restart").Any() ? string.Join(", ", List(n, "pending_restart")) : "-",
        ])));
        if (view.TryGetProperty("rolling_restart", out var rolling) && rolling.ValueKind == JsonValueKind.Object)
            text.Append(CultureInfo.InvariantCulture, $"\nrolling restart {S(rolling, "id")} in progress since {S(rolling, "started_at")}; restarted so far: {(List(rolling, "restarted").Any() ? string.Join(", ", List(rolling, "restarted")) : "none")}\n");
        else if (nodes.Any(n => List(n, "pending_restart").Any()))
            text.Append("\nsome nodes need a restart: pgha restart --rolling restarts them without downtime\n");
        return text.ToString();
    }
}
