using HA.Api.Config;
using HA.Core.Errors;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// A reload of pgha.yaml (POST /api/v1/control/reload, <c>pgha reload</c>): the file is read and checked
/// again; the settings that are safe to change live (<see cref="Live"/>: the API's token and read access)
/// take effect at once, every other changed key is reported as needing a restart and keeps its running
/// value. An invalid file changes nothing: the last good configuration stays, the error names the key.
/// </summary>
public static class ConfigReload
{
    /// <summary>The keys a reload applies without a restart.</summary>
    public static readonly IReadOnlySet<string> Live = new HashSet<string>(StringComparer.Ordinal) { "api.token", "api.token_file", "api.read_access" };

    /// <summary>What a reload did: the configuration now in force, the keys applied, the keys that wait for a restart.</summary>
    public sealed record Outcome(PghaConfig Next, IReadOnlyList<string> Applied, IReadOnlyList<string> NeedRestart);

    /// <summary>Pure: merges what was read into what runs. Values are compared, never shown (they hold secrets).</summary>
    public static Outcome Merge(PghaConfig running, PghaConfig read)
    {
        var changed = running.Settings.Keys.Union(read.Settings.Keys, StringComparer.Ordinal)
            .Where(k => running.Settings.GetValueOrDefault(k) != read.Settings.GetValueOrDefault(k))
            .Order(StringComparer.Ordinal).ToList();
        var applied = changed.Where(Live.Contains).ToList();
        var settings = new Dictionary<string, string>(running.Settings, StringComparer.Ordinal);
        foreach (var key in applied)
        {
            if (read.Settings.TryGetValue(key, out var value)) settings[key] = value;
            else settings.Remove(key);
        }
        var next = running with { ApiToken = read.ApiToken, ApiReadsNeedToken = read.ApiReadsNeedToken, Settings = settings };
        return new Outcome(next, applied, [.. changed.Where(k => !Live.Contains(k))]);
    }

    /// <summary>What a reload of the node's file did: <see cref="Outcome"/> null when nothing was changed (no file, or an invalid one).</summary>
    public sealed record Result(Outcome? Outcome, string Message);

    /// <summary>Reads the node's file again and applies what is safe (the API's endpoint and SIGHUP).</summary>
    public static Result Reload(ApiContext context)
    {
        if (context.ConfigFile is not { } path) return new Result(null, $"node {context.Node} was not started from a pgha.yaml: nothing to reload");
        PghaConfig read;
        try
        {
            read = PghaConfig.Load(path);
        }
        catch (OperatorError e)
        {
            return new Result(null, $"{e.Message}; nothing was changed: node {context.Node} keeps its last good configuration");
        }
        var outcome = Merge(context.Config, read);
        context.Config = outcome.Next;
        var message = outcome.Applied.Count == 0 && outcome.NeedRestart.Count == 0 ? $"node {context.Node}: {Path.GetFileName(path)} reloaded; nothing changed"
            : $"node {context.Node}: {Path.GetFileName(path)} reloaded; applied: {(outcome.Applied.Count == 0 ? "nothing" : string.Join(", ", outcome.Applied))}"
              + (outcome.NeedRestart.Count == 0 ? "" : $"; changed but needing a restart of pgha run: {string.Join(", ", outcome.NeedRestart)}");
        return new Result(outcome, message);
    }

    /// <summary>POST /api/v1/control/reload: 200 with what changed; 400 naming the key when the file is invalid.</summary>
    public static IResult Run(ApiContext context)
    {
        var result = Reload(context);
        if (result.Outcome is not { } outcome)
            return context.ConfigFile is null
                ? ApiProblems.Problem(StatusCodes.Status409Conflict, "nothing to reload", result.Message)
                : ApiProblems.Problem(StatusCodes.Status400BadRequest, "invalid configuration", result.Message);
        return Results.Ok(new { node = context.Node, applied = outcome.Applied, restart_needed = outcome.NeedRestart, message = result.Message });
    }
}
