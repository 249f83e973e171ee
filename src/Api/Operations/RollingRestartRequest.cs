using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// A rolling restart of the nodes with parameters pending a restart (replicas one at a time, then the
/// primary by a switchover), whoever asks (<c>POST /api/v1/cluster/restart</c>; the CLI's
/// <c>pgha restart --rolling</c> reaches it over HTTP): recorded once checked by the cluster's state,
/// or refused with the reason and nothing recorded; cancelled after the step under way.
/// </summary>
public static class RollingRestartRequest
{
    public static async Task<(RollingRestartRequested Request, ClusterState State)> RecordAsync(WitnessStore witness, string cluster, string? reason, Initiator by, CancellationToken cancellationToken)
    {
        var id = "restart-" + Guid.NewGuid().ToString("n")[..8];
        var request = new RollingRestartRequested(id, string.IsNullOrWhiteSpace(reason) ? "parameters pending restart" : reason) { By = by, CorrelationId = id };
        var state = await witness.AppendCheckedAsync(cluster, request, cancellationToken).ConfigureAwait(false);
        return (request, state);
    }

    /// <summary>What was asked: the nodes that will be restarted and what each has pending.</summary>
    public static string Describe(RollingRestartRequested request, ClusterState state)
    {
        var pending = state.Nodes.Values.Where(n => !n.Detached && n.PendingRestart.Count > 0).Select(n => $"{n.Name} ({string.Join(", ", n.PendingRestart)})");
        return $"cluster {state.Cluster}: rolling restart {request.RestartId} requested: {string.Join(", ", pending)}";
    }

    /// <summary>Stops the rolling restart in progress after its step under way; refused when none runs.</summary>
    public static async Task<(RollingRestartFailed Cancelled, ClusterState State)> CancelAsync(WitnessStore witness, string cluster, Initiator by, CancellationToken cancellationToken)
    {
        var running = (await witness.StateAsync(cluster, cancellationToken).ConfigureAwait(false)).RollingRestart
            ?? throw new OperatorError($"cluster {cluster}: no rolling restart is in progress");
        var cancelled = new RollingRestartFailed(running.Id, $"cancelled by {by}") { By = by, CorrelationId = running.Id };
        var state = await witness.AppendCheckedAsync(cluster, cancelled, cancellationToken).ConfigureAwait(false);
        return (cancelled, state);
    }

    /// <summary>Completed, failed, or still running after <paramref name="wait"/> (the restart goes on).</summary>
    public static async Task<OperationOutcome> OutcomeAsync(WitnessStore witness, string cluster, string id, TimeSpan wait, CancellationToken cancellationToken) =>
        await OutcomeWatch.FirstAsync(witness, cluster, new HistoryFilter { CorrelationId = id }, wait, e => e switch
        {
            RollingRestartCompleted done => OperationOutcome.Completed(id, $"rolling restart {id}: restarted {string.Join(", ", done.Restarted)} in {done.Duration.TotalSeconds:0.0} s; nothing pending a restart"),
            RollingRestartFailed failed => OperationOutcome.Failed(id, $"rolling restart {id} failed: {failed.Reason}"),
            _ => null,
        }, cancellationToken).ConfigureAwait(false)
        ?? OperationOutcome.Running(id, $"rolling restart {id} did not finish within {wait.TotalSeconds:0} s; it goes on: see pgha config show and the cluster's history (correlation id {id})");
}
