using System.Globalization;
using System.Text.RegularExpressions;

namespace HA.Api.Http;

/// <summary>
/// The <c>?lag=</c> of a Patroni health check: a number of bytes (<c>1048576</c>, <c>1024kB</c>,
/// <c>16MB</c>, <c>1GB</c>, units of 1024 as in PostgreSQL and Patroni) or, a pgha extension, a
/// replay delay (<c>500ms</c>, <c>10s</c>, <c>1min</c>, <c>1h</c>).
/// </summary>
public readonly partial record struct LagLimit(long? Bytes, TimeSpan? Delay)
{
    public static bool TryParse(string? text, out LagLimit limit)
    {
        limit = default;
        var match = Pattern().Match(text?.Trim() ?? "");
        if (!match.Success || !decimal.TryParse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)) return false;
        var unit = match.Groups[2].Value;
        long? bytes = unit switch
        {
            "" or "B" => 1,
            "kB" or "KB" => 1024L,
            "MB" => 1024L * 1024,
            "GB" => 1024L * 1024 * 1024,
            "TB" => 1024L * 1024 * 1024 * 1024,
            _ => null,
        };
        if (bytes is { } size)
        {
            // A fraction of a byte means nothing: "1.5MB" is fine, "1.5" is not.
            if (amount > long.MaxValue / size) return false;
            var total = amount * size;
            if (total != decimal.Truncate(total)) return false;
            limit = new LagLimit((long)total, null);
            return true;
        }
        var milliseconds = unit switch
        {
            "ms" => 1m,
            "s" => 1000m,
            "min" => 60_000m,
            "h" => 3_600_000m,
            "d" => 86_400_000m,
            _ => -1m,
        };
        if (milliseconds < 0 || amount > (decimal)TimeSpan.MaxValue.TotalMilliseconds / 2 / milliseconds) return false;
        limit = new LagLimit(null, TimeSpan.FromMilliseconds((double)(amount * milliseconds)));
        return true;
    }

    public override string ToString() => Bytes is { } b
        ? string.Create(CultureInfo.InvariantCulture, $"{b} bytes")
        : string.Create(CultureInfo.InvariantCulture, $"{Delay!.Value.TotalSeconds:0.###} s");

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB|ms|s|min|h|d)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
