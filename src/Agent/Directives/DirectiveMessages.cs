using HA.Core.Directives;
using HA.Core.Events;

namespace HA.Agent.Directives;

/// <summary>A directive addressed to one node's agent (the message a queue <c>agent-&lt;node&gt;</c> carries).</summary>
public sealed record DirectiveEnvelope(string Cluster, DirectiveIssued Directive);

/// <summary>
/// What the agent did with a directive; the coordinator turns it into DirectiveSucceeded or DirectiveFailed.
/// A success carries its typed <see cref="Outcome"/> beside the human <see cref="Detail"/> (null only in an
/// answer an older agent saved before outcomes were typed, or a failure).
/// </summary>
public sealed record DirectiveResult(string Cluster, string DirectiveId, string Node, bool Succeeded, TimeSpan Duration, string Detail, string CorrelationId, DirectiveOutcome? Outcome = null)
{
    public static DirectiveResult For(DirectiveEnvelope envelope, bool succeeded, TimeSpan duration, string detail, DirectiveOutcome? outcome = null) =>
        new(envelope.Cluster, envelope.Directive.DirectiveId, envelope.Directive.Node, succeeded, duration, detail, envelope.Directive.CorrelationId, outcome);

    public ClusterEvent ToEvent() => Succeeded
        ? new DirectiveSucceeded(DirectiveId, Node, Duration, Detail, Outcome) { By = Initiator.Agent(Node), CorrelationId = CorrelationId }
        : new DirectiveFailed(DirectiveId, Node, Duration, Detail) { By = Initiator.Agent(Node), CorrelationId = CorrelationId };
}
