using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using HA.Core.State;

namespace HA.Core.Parameters;

/// <summary>
/// The arguments of an APPLY_CONFIG directive that carries the cluster's parameters (APPLY_CONFIG also
/// carries synchronous_standby_names on its own; an agent tells them apart by these keys), and the
/// answer an agent gives to it (and to RESTART), from which the node's <see cref="Events.ParametersApplied"/> is recorded.
/// </summary>
public static partial class ParameterDirective
{
    /// <summary>The full desired set, a JSON object of name → value.</summary>
    public const string ParametersKey = "parameters";

    /// <summary>Names pgha set earlier and no longer sets: the agent resets them (a JSON array).</summary>
    public const string ResetKey = "reset";

    /// <summary>The parameters' version (the stream version of the change) the directive brings the node to.</summary>
    public const string VersionKey = "parameters_version";

    /// <summary>The correlation id of the directives that roll out one version (failures are counted per node by it).</summary>
    public static string CorrelationFor(long version) => $"parameters-v{version.ToString(CultureInfo.InvariantCulture)}";

    public static bool IsRollout(string correlationId) => correlationId.StartsWith("parameters-v", StringComparison.Ordinal);

    /// <summary>What a node needs to run with the cluster's current parameters.</summary>
    public static Dictionary<string, string> Arguments(ClusterState state) => new(StringComparer.Ordinal)
    {
        [ParametersKey] = JsonSerializer.Serialize(state.Parameters),
        [ResetKey] = JsonSerializer.Serialize(state.ParameterNames.Where(n => !state.Parameters.ContainsKey(n)).Order(StringComparer.Ordinal).ToList()),
        [VersionKey] = state.ParametersVersion.ToString(CultureInfo.InvariantCulture),
    };

    public static bool Carries(IReadOnlyDictionary<string, string> arguments) => arguments.ContainsKey(ParametersKey);

    /// <summary>The desired parameters, the names to reset and the version, as an agent reads them.</summary>
    public static (IReadOnlyDictionary<string, string> Desired, IReadOnlyList<string> Reset, long Version) Read(IReadOnlyDictionary<string, string> arguments)
    {
        var desired = JsonSerializer.Deserialize<Dictionary<string, string>>(arguments[ParametersKey]) ?? [];
        var reset = arguments.TryGetValue(ResetKey, out var names) ? JsonSerializer.Deserialize<List<string>>(names) ?? [] : [];
        var version = long.Parse(arguments[VersionKey], NumberStyles.None, CultureInfo.InvariantCulture);
        var bad = desired.Keys.Concat(reset).FirstOrDefault(n => !ParameterValidation.ParameterName().IsMatch(n) || ManagedParameters.Reason(n) is not null);
        if (bad is not null) throw new InvalidOperationException($"refused: '{bad}' is not a parameter pgha may set");
        return (desired, reset, version);
    }

    /// <summary>The detail an agent answers with once its PostgreSQL runs with (or has read) version <paramref name="version"/>.</summary>
    public static string Answer(string what, long version, IReadOnlyCollection<string> pendingRestart) =>
        $"{what}; parameters version {version.ToString(CultureInfo.InvariantCulture)}; pending restart: {(pendingRestart.Count == 0 ? "none" : string.Join(", ", pendingRestart.Order(StringComparer.Ordinal)))}";

    /// <summary>Reads an answer written by <see cref="Answer"/>; false for any other detail.</summary>
    public static bool TryReadAnswer(string detail, out long version, out IReadOnlyList<string> pendingRestart)
    {
        var match = AnswerPattern().Match(detail);
        version = 0;
        pendingRestart = [];
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out version)) return false;
        var names = match.Groups[2].Value.Trim();
        pendingRestart = names == "none" ? [] : names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return true;
    }

    [GeneratedRegex(@"parameters version (\d+); pending restart: ([a-z0-9_.$, ]+)$")]
    private static partial Regex AnswerPattern();
}
