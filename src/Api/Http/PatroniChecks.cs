using System.Globalization;

namespace HA.Api.Http;

/// <summary>Which of Patroni's health checks is asked.</summary>
public enum PatroniCheck
{
    /// <summary>/primary, /master, /read-write: PostgreSQL runs as the primary and this agent holds the primary lease.</summary>
    Primary,

    /// <summary>/leader: this agent holds the primary lease, whatever PostgreSQL is doing.</summary>
    Leader,

    /// <summary>/replica: a running standby, in routing (not detached).</summary>
    Replica,

    /// <summary>/read-only: /primary or /replica.</summary>
    ReadOnly,

    /// <summary>/synchronous, /sync: /replica and one of the synchronous standbys.</summary>
    Synchronous,

    /// <summary>/asynchronous, /async: /replica and not a synchronous standby.</summary>
    Asynchronous,

    /// <summary>/health: PostgreSQL runs.</summary>
    Health,
}

/// <summary>What a Patroni health check looks at on one node, read at the moment of the request.</summary>
public sealed record HealthSnapshot
{
    public required string Node { get; init; }
    public bool PostgresRunning { get; init; }
    public bool InRecovery { get; init; }
    public bool HoldsPrimaryLease { get; init; }

    /// <summary>Detached for maintenance: out of routing, Patroni's <c>noloadbalance</c>.</summary>
    public bool Detached { get; init; }
    public bool NoFailover { get; init; }
    public int FailoverPriority { get; init; }
    public bool SynchronousStandby { get; init; }

    /// <summary>Bytes this standby's replay is behind the primary's last gossiped position (null: unknown).</summary>
    public long? LagBytes { get; init; }

    /// <summary>How long ago the last replayed transaction committed on the primary, zero when replay has caught up (null: unknown or not asked).</summary>
    public TimeSpan? LagDelay { get; init; }

    /// <summary>The node's tags as Patroni names them, for <c>?tag=value</c>.</summary>
    public IReadOnlyDictionary<string, string> Tags => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["nofailover"] = NoFailover ? "true" : "false",
        ["noloadbalance"] = Detached ? "true" : "false",
        ["failover_priority"] = FailoverPriority.ToString(CultureInfo.InvariantCulture),
    };

    public string Role => !PostgresRunning ? "stopped" : InRecovery ? "replica" : "primary";
}

/// <summary>
/// Patroni's health checks as pure functions: a check, the node as seen now and the request's query
/// (<c>lag</c> and tags) give 200 or 503 and why. The endpoints in <see cref="HealthEndpoints"/> only
/// gather the snapshot and write the answer.
/// </summary>
public static class PatroniChecks
{
    /// <summary>Query keys that are not tags.</summary>
    private static readonly HashSet<string> NotTags = new(StringComparer.Ordinal) { "lag" };

    /// <summary>The lag limit in the query, or an error when it cannot be read (answered 400).</summary>
    public static (LagLimit? Limit, string? Error) ReadLag(string? text)
    {
        if (text is null) return (null, null);
        return LagLimit.TryParse(text, out var limit)
            ? (limit, null)
            : (null, $"lag '{text}' is neither a size (1048576, 1024kB, 16MB, 1GB) nor a delay (500ms, 10s, 1min)");
    }

    /// <summary>Whether <paramref name="check"/> passes; when it does not, the reason is the first condition that failed.</summary>
    public static (bool Passes, string Reason) Evaluate(PatroniCheck check, HealthSnapshot node, LagLimit? lag, IEnumerable<KeyValuePair<string, string>> query)
    {
        if (check == PatroniCheck.Leader)
            return node.HoldsPrimaryLease ? (true, "holds the primary lease") : (false, "does not hold the primary lease");
        if (!node.PostgresRunning) return (false, "PostgreSQL is not running");
        if (check == PatroniCheck.Health) return (true, "PostgreSQL is running");

        var primary = !node.InRecovery && node.HoldsPrimaryLease;
        switch (check)
        {
            case PatroniCheck.Primary:
                if (node.InRecovery) return (false, "PostgreSQL is a standby");
                return primary ? (true, "primary holding the primary lease") : (false, "PostgreSQL accepts writes but this node does not hold the primary lease");
            case PatroniCheck.ReadOnly when primary:
                break;
            case PatroniCheck.ReadOnly or PatroniCheck.Replica or PatroniCheck.Synchronous or PatroniCheck.Asynchronous:
                if (!node.InRecovery) return (false, node.HoldsPrimaryLease ? "PostgreSQL is the primary" : "PostgreSQL is not a standby and this node does not hold the primary lease");
                if (check == PatroniCheck.Synchronous && !node.SynchronousStandby) return (false, "not a synchronous standby");
                if (check == PatroniCheck.Asynchronous && node.SynchronousStandby) return (false, "a synchronous standby");
                break;
        }
        if (node.Detached) return (false, "detached for maintenance (noloadbalance)");

        foreach (var (key, value) in query)
        {
            if (NotTags.Contains(key)) continue;
            if (!node.Tags.TryGetValue(key, out var tag)) return (false, $"no tag {key}");
            if (!string.Equals(tag, value, StringComparison.OrdinalIgnoreCase)) return (false, $"tag {key} is {tag}, not {value}");
        }

        if (lag is { } limit && node.InRecovery)
        {
            if (limit.Bytes is { } bytes && node.LagBytes is { } behind && behind > bytes)
                return (false, string.Create(CultureInfo.InvariantCulture, $"replay lags {behind} bytes, over {limit}"));
            if (limit.Delay is { } delay && node.LagDelay is { } late && late > delay)
                return (false, string.Create(CultureInfo.InvariantCulture, $"replay lags {late.TotalSeconds:0.###} s, over {limit}"));
        }
        return (true, primary ? "primary holding the primary lease" : "running standby");
    }
}
