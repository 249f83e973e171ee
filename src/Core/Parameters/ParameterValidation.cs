using System.Globalization;
using System.Text.RegularExpressions;

namespace HA.Core.Parameters;

/// <summary>
/// What a <c>pgha config set/reset</c> would record: the changes (a value, or null to reset), the changed
/// parameters that need a restart, the ones already at the asked value, and every problem found. One
/// problem means nothing is recorded.
/// </summary>
public sealed record ParameterPlan(
    IReadOnlyDictionary<string, string?> Changes,
    IReadOnlyList<string> PendingRestart,
    IReadOnlyList<string> Unchanged,
    IReadOnlyList<string> Problems)
{
    public bool IsValid => Problems.Count == 0;
}

/// <summary>
/// Checks cluster-wide parameter changes against a member's <c>pg_settings</c> before anything is
/// recorded, the way PostgreSQL itself would read the values: booleans in every form it accepts,
/// integers and reals within their bounds and with the units their base unit allows (memory: B, kB, MB,
/// GB, TB; time: us, ms, s, min, h, d), enums against their accepted values, strings as they are.
/// Parameters pgha sets itself (<see cref="ManagedParameters"/>) and read-only ones are refused.
/// </summary>
public static partial class ParameterValidation
{
    private static readonly (string Unit, double Bytes)[] MemoryUnits = [("B", 1), ("kB", 1024), ("MB", 1024.0 * 1024), ("GB", 1024.0 * 1024 * 1024), ("TB", 1024.0 * 1024 * 1024 * 1024)];
    private static readonly (string Unit, double Microseconds)[] TimeUnits = [("us", 1), ("ms", 1000), ("s", 1e6), ("min", 60e6), ("h", 3600e6), ("d", 86400e6)];

    /// <param name="requested">names with a value to set, or null to reset, in the order given</param>
    /// <param name="catalog">pg_settings of a reachable member, by name</param>
    /// <param name="current">the parameters pgha sets now (the cluster state's)</param>
    public static ParameterPlan Plan(IReadOnlyList<KeyValuePair<string, string?>> requested, IReadOnlyDictionary<string, ParameterDefinition> catalog, IReadOnlyDictionary<string, string> current)
    {
        var changes = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        var pending = new SortedSet<string>(StringComparer.Ordinal);
        var unchanged = new List<string>();
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (rawName, value) in requested)
        {
            var name = rawName.Trim().ToLowerInvariant();
            if (!ParameterName().IsMatch(name)) { problems.Add($"'{rawName}' is not a parameter name"); continue; }
            if (!seen.Add(name)) { problems.Add($"{name} is given twice"); continue; }
            if (ManagedParameters.Reason(name) is { } managed) { problems.Add($"{name} is managed by pgha: {managed}"); continue; }
            var definition = catalog.GetValueOrDefault(name);
            if (value is null)
            {
                if (!current.ContainsKey(name)) { problems.Add($"{name} is not set through pgha: nothing to reset"); continue; }
                if (definition is not null && LoweringProblem(definition, definition.FallbackSetting, "resetting it returns it to") is { } lowering) { problems.Add(lowering); continue; }
                changes[name] = null;
                if (definition?.NeedsRestart == true) pending.Add(name);
                continue;
            }
            if (definition is null) { problems.Add($"unknown parameter '{name}'"); continue; }
            if (definition.Context == "internal") { problems.Add($"{name} is fixed when PostgreSQL is built or initialized: it cannot be set"); continue; }
            if (CheckValue(definition, value, out var normalized) is { } invalid) { problems.Add($"{name}: {invalid}"); continue; }
            if (LoweringProblem(definition, normalized, "it would be") is { } lower) { problems.Add(lower); continue; }
            if (current.TryGetValue(name, out var now) && now == normalized) { unchanged.Add(name); continue; }
            changes[name] = normalized;
            if (definition.NeedsRestart) pending.Add(name);
        }
        return new ParameterPlan(changes, [.. pending], unchanged, problems);
    }

    /// <summary>Why <paramref name="value"/> is not valid for the parameter (null when it is); <paramref name="normalized"/> is the value to record.</summary>
    public static string? CheckValue(ParameterDefinition definition, string value, out string normalized)
    {
        normalized = value.Trim();
        if (value.Contains('\0', StringComparison.Ordinal)) return "a value cannot contain a NUL character";
        switch (definition.Vartype)
        {
            case "bool":
                if (!TryParseBool(normalized, out var on)) return $"'{value}' is not a boolean (on, off, true, false, yes, no, 1, 0)";
                normalized = on ? "on" : "off";
                return null;
            case "enum":
                var given = normalized;
                var match = definition.EnumVals.FirstOrDefault(v => string.Equals(v, given, StringComparison.OrdinalIgnoreCase));
                if (match is null) return $"'{value}' is not one of {string.Join(", ", definition.EnumVals)}";
                normalized = match;
                return null;
            case "integer" or "real":
                return ParseNumber(definition, normalized, out _);
            default:
                return null;
        }
    }

    /// <summary>
    /// A boolean as PostgreSQL reads one: on, off, true, false, yes, no, 1, 0, any case, and any
    /// unambiguous prefix of them (t, f, y, n; "o" alone is ambiguous).
    /// </summary>
    public static bool TryParseBool(string text, out bool value)
    {
        var t = text.Trim().ToLowerInvariant();
        value = false;
        if (t.Length == 0) return false;
        if (t == "1" || (t.Length >= 1 && "true".StartsWith(t, StringComparison.Ordinal)) || (t.Length >= 1 && "yes".StartsWith(t, StringComparison.Ordinal)) || (t.Length >= 2 && "on".StartsWith(t, StringComparison.Ordinal)))
        {
            value = true;
            return true;
        }
        return t == "0" || "false".StartsWith(t, StringComparison.Ordinal) || "no".StartsWith(t, StringComparison.Ordinal) || (t.Length >= 2 && "off".StartsWith(t, StringComparison.Ordinal));
    }

    /// <summary>
    /// Reads an integer or real value, with a unit when the parameter has one, into the parameter's base
    /// unit (integers rounded, as PostgreSQL does), and checks it against the bounds. Null when valid.
    /// </summary>
    public static string? ParseNumber(ParameterDefinition definition, string text, out double inBaseUnit)
    {
        inBaseUnit = 0;
        var integer = definition.Vartype == "integer";
        var (kind, baseSize) = BaseUnit(definition.Unit);
        var what = kind switch
        {
            "memory" => $"amount of memory (a number, optionally with a unit: {string.Join(", ", MemoryUnits.Select(u => u.Unit))})",
            "time" => $"duration (a number, optionally with a unit: {string.Join(", ", TimeUnits.Select(u => u.Unit))})",
            _ => integer ? "whole number" : "number",
        };
        var match = Number().Match(text.Trim());
        if (!match.Success) return $"'{text}' is not a valid {what}";
        var digits = match.Groups[1].Value;
        double number;
        if (digits.TrimStart('+', '-').StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (!integer || !long.TryParse(digits.TrimStart('+', '-')[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex)) return $"'{text}' is not a valid {what}";
            number = digits.StartsWith('-') ? -hex : hex;
        }
        else if (!double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out number) || double.IsInfinity(number))
        {
            return $"'{text}' is not a valid {what}";
        }

        var unit = match.Groups[2].Value;
        if (unit.Length > 0)
        {
            if (kind is null) return $"'{text}': {definition.Name} takes a plain {(integer ? "whole number" : "number")}, without a unit";
            var table = kind == "memory" ? MemoryUnits : TimeUnits;
            var found = table.FirstOrDefault(u => u.Item1 == unit);
            if (found.Item1 is null) return $"'{text}': '{unit}' is not a unit of {definition.Name}; use {string.Join(", ", table.Select(u => u.Item1))}";
            number = number * found.Item2 / baseSize;
        }
        if (integer)
        {
            number = Math.Round(number, MidpointRounding.ToEven);
            if (number is < int.MinValue or > int.MaxValue) return $"'{text}' is out of range for an integer parameter";
        }
        inBaseUnit = number;
        var min = Bound(definition.MinVal);
        var max = Bound(definition.MaxVal);
        if ((min is { } low && number < low) || (max is { } high && number > high))
        {
            var shown = unit.Length > 0 ? $"'{text}' ({Format(number)}{BaseUnitSuffix(definition.Unit)})" : $"'{text}'";
            return $"{shown} is outside the valid range {definition.MinVal} .. {definition.MaxVal}{BaseUnitSuffix(definition.Unit)}";
        }
        return null;
    }

    /// <summary>
    /// A parameter a standby needs at least at the primary's value may only be raised: the standbys are
    /// restarted before the primary, and a standby below the primary's value stops replaying.
    /// </summary>
    private static string? LoweringProblem(ParameterDefinition definition, string? value, string how)
    {
        if (!ManagedParameters.NotLowerOnStandby.Contains(definition.Name) || value is null || definition.Setting is null) return null;
        if (ParseNumber(definition, value, out var next) is not null || ParseNumber(definition, definition.Setting, out var running) is not null) return null;
        if (next >= running) return null;
        return $"{definition.Name}: {how} {value}, lower than the {Format(running)} the primary runs with: a standby needs at least the primary's value " +
            "(PostgreSQL stops its recovery otherwise) and a rolling restart restarts the standbys first, so pgha can only raise it";
    }

    private static (string? Kind, double Size) BaseUnit(string? unit)
    {
        if (string.IsNullOrEmpty(unit)) return (null, 1);
        var match = UnitWithFactor().Match(unit);
        if (!match.Success) return (null, 1);
        var factor = match.Groups[1].Value.Length > 0 ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 1;
        var name = match.Groups[2].Value;
        foreach (var (u, bytes) in MemoryUnits) if (u == name) return ("memory", factor * bytes);
        foreach (var (u, micro) in TimeUnits) if (u == name) return ("time", factor * micro);
        return (null, 1);
    }

    private static string BaseUnitSuffix(string? unit) => string.IsNullOrEmpty(unit) ? "" : " " + unit;

    private static double? Bound(string? text) =>
        text is not null && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^([+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))\s*([A-Za-z]*)$")]
    private static partial Regex Number();

    [GeneratedRegex(@"^(\d*)\s*([A-Za-z]+)$")]
    private static partial Regex UnitWithFactor();

    /// <summary>What PostgreSQL accepts as a parameter name (custom ones have a dot: auto_explain.log_min_duration).</summary>
    [GeneratedRegex(@"^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)*$")]
    public static partial Regex ParameterName();
}
