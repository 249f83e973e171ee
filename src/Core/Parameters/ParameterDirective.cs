using System.Globalization;
using HA.Core.Directives;
using HA.Core.State;

namespace HA.Core.Parameters;

/// <summary>
/// The APPLY_CONFIG directive that carries the cluster's parameters (<see cref="ApplyParameters"/>), its
/// rollout's correlation ids, and the human sentence an agent answers it (and RESTART) with; the node's
/// <see cref="Events.ParametersApplied"/> is recorded from the typed outcome, never from that sentence.
/// </summary>
public static class ParameterDirective
{
    /// <summary>The correlation id of the directives that roll out one version (failures are counted per node by it).</summary>
    public static string CorrelationFor(long version) => $"parameters-v{version.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Whether a correlation id is one <see cref="CorrelationFor"/> minted (an id pgha writes, not a message).</summary>
    public static bool IsRollout(string correlationId) => correlationId.StartsWith("parameters-v", StringComparison.Ordinal);

    /// <summary>What a node needs to run with the cluster's current parameters: the whole set, the names to reset, the version.</summary>
    public static ApplyParameters For(ClusterState state) => new(
        new Dictionary<string, string>(state.Parameters, StringComparer.Ordinal),
        [.. state.ParameterNames.Where(n => !state.Parameters.ContainsKey(n)).Order(StringComparer.Ordinal)],
        state.ParametersVersion);

    /// <summary>Why an agent refuses <paramref name="directive"/> (a name that is not a parameter pgha may set), or null.</summary>
    public static string? Problem(ApplyParameters directive)
    {
        var bad = directive.Desired.Keys.Concat(directive.Reset).FirstOrDefault(n => !ParameterValidation.ParameterName().IsMatch(n) || ManagedParameters.Reason(n) is not null);
        return bad is null ? null : $"refused: '{bad}' is not a parameter pgha may set";
    }

    /// <summary>The human line an agent answers with once its PostgreSQL runs with (or has read) <paramref name="version"/>.</summary>
    public static string Answer(string what, long version, IReadOnlyCollection<string> pendingRestart) =>
        $"{what}; parameters version {version.ToString(CultureInfo.InvariantCulture)}; pending restart: {(pendingRestart.Count == 0 ? "none" : string.Join(", ", pendingRestart.Order(StringComparer.Ordinal)))}";
}
