using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// A manual failover asked for (POST /api/v1/cluster/failover, POST /api/v1/nodes/{name}/promote,
/// <c>pgha failover</c>): recorded as FailoverRequested once checked (unknown or detached node, the
/// primary itself, a failover or switchover under way, a paused cluster without force are refused);
/// the coordinator then refuses it with the reason or runs the ordinary failover to that node.
/// </summary>
public static class FailoverRequest
{
    public static async Task<(FailoverRequested Request, ClusterState State)> RecordAsync(WitnessStore witness, string cluster, string to, bool allowDataLoss, bool force, Initiator by, CancellationToken cancellationToken)
    {
        var id = "failover-" + Guid.NewGuid().ToString("n")[..8];
        var request = new FailoverRequested(id, to, allowDataLoss, force) { By = by, CorrelationId = id };
        return (request, await OperatorRequests.RecordAsync(witness, cluster, request, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the coordinator's refusal, or the failover it started to that node to end.</summary>
    public static async Task<OperationOutcome> OutcomeAsync(WitnessStore witness, string cluster, FailoverRequested request, long requestedAtVersion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string? started = null;
        return await OutcomeWatch.FirstAsync(witness, cluster, new HistoryFilter { AfterVersion = requestedAtVersion - 1 }, timeout, e =>
        {
            switch (e)
            {
                case FailoverFailed refused when refused.FailoverId == request.RequestId:
                    return OperationOutcome.Failed(request.RequestId, $"failover {request.RequestId} refused: {refused.Reason}");
                case FailoverStarted s when s.Candidate == request.To && started is null:
                    started = s.FailoverId;
                    break;
                case FailoverCompleted done when done.FailoverId == started:
                    return OperationOutcome.Completed(request.RequestId, $"failover {started}: {request.To} is the primary of term {done.Term}; took {done.Duration.TotalSeconds:0.00} s");
                case FailoverFailed failed when failed.FailoverId == started:
                    return OperationOutcome.Failed(request.RequestId, $"failover {started} to {request.To} failed: {failed.Reason}");
            }
            return null;
        }, cancellationToken).ConfigureAwait(false)
        ?? OperationOutcome.Running(request.RequestId, $"failover {request.RequestId} did not finish within {timeout.TotalSeconds:0} s; see the cluster's history");
    }
}
