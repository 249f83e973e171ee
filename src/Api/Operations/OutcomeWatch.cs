using System.Diagnostics;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>How a switchover or failover asked for ended, or that it still runs after the time waited.</summary>
/// <param name="Status">completed, failed or running</param>
public sealed record OperationOutcome(string Id, string Status, string Message)
{
    public static OperationOutcome Completed(string id, string message) => new(id, "completed", message);
    public static OperationOutcome Failed(string id, string message) => new(id, "failed", message);
    public static OperationOutcome Running(string id, string message) => new(id, "running", message);
}

/// <summary>
/// How an operation's requester waits for its outcome: it reads the cluster's events that match
/// <c>filter</c> until <c>decide</c> sees the end, or gives up after the timeout (the operation goes on).
/// </summary>
internal static class OutcomeWatch
{
    /// <summary>The first non-null answer of <paramref name="decide"/>, or null when <paramref name="timeout"/> elapsed first.</summary>
    public static async Task<T?> FirstAsync<T>(WitnessStore witness, string cluster, HistoryFilter filter, TimeSpan timeout, Func<ClusterEvent, T?> decide, CancellationToken cancellationToken)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var page = await witness.EventsAsync(cluster, filter with { Limit = 1000 }, cancellationToken).ConfigureAwait(false);
            foreach (var e in page.Events)
            {
                if (decide(e.Event) is { } answer) return answer;
            }
            if (clock.Elapsed >= timeout) return null;
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>For the commands that still wait themselves: an exit code, or an error saying the operation goes on.</summary>
    public static async Task<int> UntilAsync(WitnessStore witness, string cluster, HistoryFilter filter, TimeSpan timeout, Func<ClusterEvent, int?> decide, string stillRunning, CancellationToken cancellationToken)
    {
        var answer = await FirstAsync(witness, cluster, filter, timeout, e => decide(e) is { } code ? (object)code : null, cancellationToken).ConfigureAwait(false);
        return answer is int exitCode ? exitCode : throw new OperatorError(stillRunning);
    }
}
