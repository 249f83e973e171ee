using System.Diagnostics;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// How an operator command waits for the outcome of what it asked: it reads the cluster's events that
/// match <c>filter</c> until <c>decide</c> sees the end (its exit code; a failure throws), or gives up
/// after the timeout with a line saying the operation goes on.
/// </summary>
internal static class OutcomeWatch
{
    public static async Task<int> UntilAsync(WitnessStore witness, string cluster, HistoryFilter filter, TimeSpan timeout, Func<ClusterEvent, int?> decide, string stillRunning, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var page = await witness.EventsAsync(cluster, filter with { Limit = 1000 }, cancellationToken);
            foreach (var e in page.Events)
            {
                if (decide(e.Event) is { } exitCode) return exitCode;
            }
            await Task.Delay(200, cancellationToken);
        }
        throw new OperatorError(stillRunning);
    }
}
