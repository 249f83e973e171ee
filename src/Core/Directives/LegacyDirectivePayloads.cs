using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using HA.Core.Events;

namespace HA.Core.Directives;

/// <summary>
/// The one place that reads directives and answers written before they were typed, so that a log stored
/// by an older pgha still loads and means the same:
/// <list type="bullet">
/// <item>a <see cref="DirectiveIssued"/> stored with only its string <c>arguments</c> (keys <c>upstream</c>,
/// <c>after_lsn</c>, <c>synchronous_standby_names</c>, <c>parameters</c>/<c>reset</c>/<c>parameters_version</c>)
/// becomes its typed <see cref="Directive"/> as it is deserialized;</item>
/// <item>a <see cref="DirectiveSucceeded"/> (or an agent's saved answer) with only its human <c>detail</c>
/// becomes its typed <see cref="DirectiveOutcome"/>, read from the sentences the agents of that version wrote
/// ("demoted at final LSN 0/5000200; following n2", "… reinitialized from n2 instead", …).</item>
/// </list>
/// Nothing else in pgha reads a directive's arguments or an answer's text. New code never writes either.
/// </summary>
public static partial class LegacyDirectivePayloads
{
    public const string UpstreamKey = "upstream";
    public const string AfterLsnKey = "after_lsn";
    public const string SynchronousKey = "synchronous_standby_names";
    public const string ParametersKey = "parameters";
    public const string ResetKey = "reset";
    public const string VersionKey = "parameters_version";

    /// <summary>The typed directive an old DirectiveIssued of <paramref name="kind"/> with <paramref name="arguments"/> stood for.</summary>
    public static Directive Directive(DirectiveKind kind, IReadOnlyDictionary<string, string> arguments)
    {
        var upstream = arguments.GetValueOrDefault(UpstreamKey) ?? "";
        return kind switch
        {
            DirectiveKind.Fence => new Fence(),
            DirectiveKind.Promote => new Promote(arguments.GetValueOrDefault(SynchronousKey), arguments.GetValueOrDefault(AfterLsnKey)),
            DirectiveKind.Demote => new Demote(upstream),
            DirectiveKind.Repoint => new Repoint(upstream),
            DirectiveKind.Rewind => new Rewind(upstream),
            DirectiveKind.Reinitialize => new Reinitialize(upstream),
            DirectiveKind.Checkpoint => new Checkpoint(),
            // APPLY_CONFIG carried either the cluster's parameters or synchronous_standby_names, told apart by the keys.
            DirectiveKind.ApplyConfig when arguments.TryGetValue(ParametersKey, out var desired) => new ApplyParameters(
                JsonSerializer.Deserialize<Dictionary<string, string>>(desired) ?? [],
                arguments.TryGetValue(ResetKey, out var reset) ? JsonSerializer.Deserialize<List<string>>(reset) ?? [] : [],
                Version(arguments)),
            DirectiveKind.ApplyConfig => new ApplySynchronousStandbys(arguments.GetValueOrDefault(SynchronousKey) ?? ""),
            DirectiveKind.Restart => new Restart(Version(arguments)),
            _ => throw new NotSupportedException($"no typed directive for {kind}"),
        };
    }

    /// <summary>
    /// The typed outcome an old answer's <paramref name="detail"/> to a directive of <paramref name="kind"/> stood for;
    /// null when the sentence is not one an agent wrote for that kind (nothing is decided from it then).
    /// </summary>
    public static DirectiveOutcome? Outcome(DirectiveKind kind, string detail)
    {
        switch (kind)
        {
            case DirectiveKind.Fence:
                return new Fenced();
            case DirectiveKind.Promote:
                if (AlreadyPrimary().Match(detail) is { Success: true } already) return new Promoted(Int(already.Groups["timeline"].Value), null, AlreadyPrimary: true);
                return PromotedAt().Match(detail) is { Success: true } promoted ? new Promoted(Int(promoted.Groups["timeline"].Value), promoted.Groups["lsn"].Value) : null;
            case DirectiveKind.Demote:
                var following = Following().Match(detail) is { Success: true } f ? f.Groups["upstream"].Value : "";
                if (FinalLsn().Match(detail) is { Success: true } final) return new Demoted(final.Groups["lsn"].Value, following);
                return detail.StartsWith("already a standby", StringComparison.Ordinal) ? new Demoted(null, following) : null;
            case DirectiveKind.Repoint:
                return Following().Match(detail) is { Success: true } repointed ? new Following(repointed.Groups["upstream"].Value) : null;
            case DirectiveKind.Rewind or DirectiveKind.Reinitialize:
                // A REWIND answer says "reinitialized" when pg_rewind failed and a base backup replaced it.
                if (Reinitialized().Match(detail) is { Success: true } reinitialized)
                    return new Rejoined(RejoinMethod.Reinitialize, reinitialized.Groups["upstream"].Value,
                        RewindFailed().Match(detail) is { Success: true } failed ? failed.Groups["why"].Value : null);
                return kind == DirectiveKind.Rewind && Following().Match(detail) is { Success: true } rewound ? new Rejoined(RejoinMethod.Rewind, rewound.Groups["upstream"].Value) : null;
            case DirectiveKind.Checkpoint:
                return new Checkpointed();
            case DirectiveKind.ApplyConfig:
                if (SynchronousApplied().Match(detail) is { Success: true } sync) return new SynchronousStandbysSet(sync.Groups["value"].Value, sync.Groups["lsn"].Value);
                return ParametersAnswer(detail) is { } parameters ? new ParametersSet(parameters.Version, parameters.PendingRestart) : null;
            case DirectiveKind.Restart:
                return ParametersAnswer(detail) is { } restarted
                    ? new Restarted(restarted.Version, StreamingFrom().Match(detail) is { Success: true } from ? from.Groups["upstream"].Value : "", restarted.PendingRestart)
                    : null;
            default:
                return null;
        }
    }

    private static (long Version, IReadOnlyList<string> PendingRestart)? ParametersAnswer(string detail)
    {
        var match = ParametersAnswerPattern().Match(detail);
        if (!match.Success || !long.TryParse(match.Groups["version"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var version)) return null;
        var names = match.Groups["pending"].Value.Trim();
        return (version, names == "none" ? [] : names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    private static long Version(IReadOnlyDictionary<string, string> arguments) =>
        arguments.TryGetValue(VersionKey, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : 0;

    private static int Int(string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;

    [GeneratedRegex(@"^already primary on timeline (?<timeline>\d+)")]
    private static partial Regex AlreadyPrimary();

    [GeneratedRegex(@"^promoted on timeline (?<timeline>\d+) at (?<lsn>[0-9A-Fa-f]+/[0-9A-Fa-f]+)")]
    private static partial Regex PromotedAt();

    [GeneratedRegex(@"final LSN (?<lsn>[0-9A-Fa-f]+/[0-9A-Fa-f]+)")]
    private static partial Regex FinalLsn();

    [GeneratedRegex(@"following (?<upstream>[^\s;]+)")]
    private static partial Regex Following();

    [GeneratedRegex(@"reinitialized from (?<upstream>[^\s;]+)")]
    private static partial Regex Reinitialized();

    [GeneratedRegex(@"^pg_rewind failed \((?<why>.*)\); reinitialized from ")]
    private static partial Regex RewindFailed();

    [GeneratedRegex(@"streaming from (?<upstream>[^\s;]+)")]
    private static partial Regex StreamingFrom();

    [GeneratedRegex(@"^synchronous_standby_names = '(?<value>.*)' in effect at (?<lsn>\S+)$", RegexOptions.CultureInvariant)]
    private static partial Regex SynchronousApplied();

    [GeneratedRegex(@"parameters version (?<version>\d+); pending restart: (?<pending>[a-z0-9_.$, ]+)$")]
    private static partial Regex ParametersAnswerPattern();
}
