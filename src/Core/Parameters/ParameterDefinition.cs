namespace HA.Core.Parameters;

/// <summary>
/// One PostgreSQL parameter as a member's <c>pg_settings</c> describes it: its type, context, unit,
/// bounds or accepted values, and its current value (in its base unit). <see cref="FallbackSetting"/>
/// is the value it returns to when pgha no longer sets it (a configuration file's, else the built-in default).
/// </summary>
public sealed record ParameterDefinition(
    string Name,
    string Vartype,
    string Context,
    string? Unit,
    string? MinVal,
    string? MaxVal,
    IReadOnlyList<string> EnumVals,
    string? Setting,
    string? FallbackSetting = null)
{
    /// <summary>Only a restart applies it (context postmaster).</summary>
    public bool NeedsRestart => Context == "postmaster";
}
