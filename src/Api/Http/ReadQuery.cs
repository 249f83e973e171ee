using System.Globalization;
using System.Text.RegularExpressions;

namespace HA.Api.Http;

/// <summary>A query parameter the endpoint cannot use: which one, and what to send instead.</summary>
public sealed class BadParameter(string parameter, string message) : Exception(message)
{
    public string Parameter { get; } = parameter;
}

/// <summary>
/// Reading the read endpoints' query parameters: times (ISO 8601, or a duration back from now such as
/// <c>30s</c>, <c>10m</c>, <c>2h</c>, <c>1d</c>) and bounded integers. A bad value throws
/// <see cref="BadParameter"/> naming the parameter and the form expected.
/// </summary>
public static partial class ReadQuery
{
    [GeneratedRegex(@"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")]
    private static partial Regex DurationBack();

    /// <summary>The time <paramref name="text"/> names: an ISO 8601 time (UTC when it has no offset) or that long before <paramref name="now"/>; null when absent.</summary>
    public static DateTimeOffset? Time(string parameter, string? text, DateTimeOffset now)
    {
        if (text is null) return null;
        var trimmed = text.Trim();
        var duration = DurationBack().Match(trimmed);
        if (duration.Success)
        {
            var amount = double.Parse(duration.Groups[1].Value, CultureInfo.InvariantCulture);
            var back = duration.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                _ => TimeSpan.FromDays(amount),
            };
            return now - back;
        }
        if (trimmed.Length > 0 && char.IsDigit(trimmed[0])
            && DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            return at;
        throw new BadParameter(parameter, $"{parameter}='{text}' is neither an ISO 8601 time (2026-11-25T03:12:00Z) nor a duration back from now (30s, 10m, 2h, 1d)");
    }

    /// <summary>An integer from <paramref name="min"/> to <paramref name="max"/>; null when absent.</summary>
    public static long? Integer(string parameter, string? text, long min, long max)
    {
        if (text is null) return null;
        if (!long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new BadParameter(parameter, $"{parameter}='{text}' is not a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>A comma-separated list (empty items dropped); null when absent or empty.</summary>
    public static IReadOnlyList<string>? List(string? text)
    {
        var items = text?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return items is { Length: > 0 } ? items : null;
    }
}
