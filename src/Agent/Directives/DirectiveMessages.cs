using HA.Core.Events;

namespace HA.Agent.Directives;

/// <summary>A directive addressed to one node's agent (the message a queue <c>agent-&lt;node&gt;</c> carries).</summary>
public sealed record DirectiveEnvelope(string Cluster, DirectiveIssued Directive);

/// <summary>What the agent did with a directive; the coordinator turns it into DirectiveSucceeded or DirectiveFailed.</summary>
public sealed record DirectiveResult(string Cluster, string DirectiveId, string Node, bool Succeeded, TimeSpan Duration, string Detail, string CorrelationId)
{
    public static DirectiveResult For(DirectiveEnvelope envelope, bool succeeded, TimeSpan duration, string detail) =>
        new(envelope.Cluster, envelope.Directive.DirectiveId, envelope.Directive.Node, succeeded, duration, detail, envelope.Directive.CorrelationId);

    public ClusterEvent ToEvent() => Succeeded
        ? new DirectiveSucceeded(DirectiveId, Node, Duration, Detail) { By = Initiator.Agent(Node), CorrelationId = CorrelationId }
        : new DirectiveFailed(DirectiveId, Node, Duration, Detail) { By = Initiator.Agent(Node), CorrelationId = CorrelationId };
}
