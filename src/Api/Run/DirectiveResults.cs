using HA.Agent.Directives;
using HA.Core.Events;
using HA.Core.Replication;
using HA.Core.Parameters;
using HA.Projections;
using Microsoft.Extensions.Logging;

namespace HA.Api.Run;

/// <summary>
/// Turns an agent's answer to a directive into DirectiveSucceeded or DirectiveFailed (and, for a
/// successful REWIND or REINITIALIZE, NodeRejoined; for a successful APPLY_CONFIG of the cluster's
/// parameters or RESTART, ParametersApplied with what the node has pending a restart). Any pgha process may receive the answer; the
/// append is checked like every other (an answer to a directive that is no longer pending — expired,
/// or already answered by an earlier delivery — is refused and dropped, never appended twice).
/// </summary>
public sealed class DirectiveResults(WitnessStore witness, ILogger<DirectiveResults> logger)
{
    public async Task RecordAsync(DirectiveResult result, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var state = await witness.StateAsync(result.Cluster, cancellationToken);
            if (!state.PendingDirectives.TryGetValue(result.DirectiveId, out var pending))
            {
                logger.LogInformation("Answer of {Node} to directive {Id} dropped: it is not pending any more ({Detail})", result.Node, result.DirectiveId, result.Detail);
                return;
            }
            List<ClusterEvent> events = [result.ToEvent()];
            if (result.Succeeded && pending.Kind is DirectiveKind.Rewind or DirectiveKind.Reinitialize)
            {
                var method = pending.Kind == DirectiveKind.Reinitialize || result.Detail.Contains("reinitialized", StringComparison.Ordinal) ? "reinitialize" : "rewind";
                events.Add(new NodeRejoined(result.Node, method, state.Timeline, result.Duration) { By = Initiator.Agent(result.Node), CorrelationId = result.CorrelationId });
            }
            if (result.Succeeded && pending.Kind == DirectiveKind.ApplyConfig && SyncApplyDetail.TryParse(result.Detail, out var value, out var lsn))
            {
                // Recorded only for the node that is still the primary (a late answer of a former one is refused by the state).
                var synchronous = new SynchronousStandbysApplied(result.Node, value, lsn.ToString()) { By = Initiator.Agent(result.Node), CorrelationId = result.CorrelationId };
                if (state.Check(synchronous) is null) events.Add(synchronous);
            }
            if (result.Succeeded && pending.Kind is DirectiveKind.ApplyConfig or DirectiveKind.Restart
                && ParameterDirective.TryReadAnswer(result.Detail, out var version, out var pendingRestart))
            {
                // What the node runs with now; an answer overtaken by a newer one (or a newer change) is not recorded.
                var applied = new ParametersApplied(result.Node, version, pendingRestart) { By = Initiator.Agent(result.Node), CorrelationId = result.CorrelationId };
                if (state.Check(applied) is null) events.Add(applied);
            }
            try
            {
                await witness.AppendAsync(result.Cluster, state.Version, events, cancellationToken: cancellationToken);
                return;
            }
            catch (WitnessConcurrencyException) when (attempt < 20)
            {
                // Another append won the race: read the state again.
            }
        }
    }
}
