using HA.Agent.Directives;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Projections;
using Microsoft.Extensions.Logging;

namespace HA.Api.Run;

/// <summary>
/// Turns an agent's answer to a directive into DirectiveSucceeded or DirectiveFailed and what its typed
/// outcome records (<see cref="DirectiveAnswers"/> decides). Any pgha process may receive the answer; the
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
            var events = DirectiveAnswers.Record(state, pending, result.ToEvent());
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
