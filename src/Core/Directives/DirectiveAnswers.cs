using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Directives;

/// <summary>
/// What an agent's answer to a pending directive appends, decided from its typed outcome (never from its
/// sentence): the answer itself, and for a successful REWIND or REINITIALIZE, <see cref="NodeRejoined"/> by
/// the method the agent used; for APPLY_CONFIG of synchronous_standby_names on the primary,
/// <see cref="SynchronousStandbysApplied"/> from the LSN it took effect; for APPLY_CONFIG of the parameters
/// or RESTART, <see cref="ParametersApplied"/> with what the node has pending a restart.
/// </summary>
public static class DirectiveAnswers
{
    /// <param name="answer">a <see cref="DirectiveSucceeded"/> or <see cref="DirectiveFailed"/> for <paramref name="pending"/></param>
    public static IReadOnlyList<ClusterEvent> Record(ClusterState state, PendingDirective pending, ClusterEvent answer)
    {
        if (answer is not DirectiveSucceeded succeeded) return [answer];
        // An answer an older agent saved before outcomes were typed (its gate answers a redelivery with it) has only its sentence.
        var outcome = succeeded.Outcome ?? LegacyDirectivePayloads.Outcome(pending.Kind, succeeded.Detail);
        List<ClusterEvent> events = [succeeded with { Outcome = outcome }];
        var (node, correlation, by) = (succeeded.Node, succeeded.CorrelationId, Initiator.Agent(succeeded.Node));
        switch (outcome)
        {
            case Rejoined rejoined when pending.Kind is DirectiveKind.Rewind or DirectiveKind.Reinitialize:
                events.Add(new NodeRejoined(node, rejoined.MethodName, state.Timeline, succeeded.Duration) { By = by, CorrelationId = correlation });
                break;
            case null when pending.Kind is DirectiveKind.Rewind or DirectiveKind.Reinitialize:
                // An old answer in words nobody wrote: it rejoined, by the method the directive named.
                events.Add(new NodeRejoined(node, pending.Kind == DirectiveKind.Reinitialize ? "reinitialize" : "rewind", state.Timeline, succeeded.Duration) { By = by, CorrelationId = correlation });
                break;
            case SynchronousStandbysSet synchronous when pending.Kind == DirectiveKind.ApplyConfig:
                // Recorded only for the node that is still the primary (a late answer of a former one is refused by the state).
                Add(new SynchronousStandbysApplied(node, synchronous.Value, synchronous.EffectiveAt) { By = by, CorrelationId = correlation });
                break;
            case ParametersSet set when pending.Kind == DirectiveKind.ApplyConfig:
                Add(new ParametersApplied(node, set.Version, set.PendingRestart) { By = by, CorrelationId = correlation });
                break;
            case Restarted restarted when pending.Kind == DirectiveKind.Restart:
                Add(new ParametersApplied(node, restarted.ParametersVersion, restarted.PendingRestart) { By = by, CorrelationId = correlation });
                break;
        }
        return events;

        // What the node runs with now; an answer overtaken by a newer one (or a newer change) is not recorded.
        void Add(ClusterEvent e)
        {
            if (state.Check(e) is null) events.Add(e);
        }
    }
}
