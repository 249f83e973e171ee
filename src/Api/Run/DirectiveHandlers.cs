using HA.Agent.Directives;
using HA.Agent.Runtime;

namespace HA.Api.Run;

/// <summary>An agent receives a directive on its queue and runs it; the answer goes back as a message.</summary>
public static class DirectiveEnvelopeHandler
{
    public static Task<DirectiveResult> Handle(DirectiveEnvelope envelope, NodeAgent agent, CancellationToken cancellationToken) =>
        agent.RunDirectiveAsync(envelope, cancellationToken);
}

/// <summary>An answer to a directive becomes DirectiveSucceeded or DirectiveFailed in the log.</summary>
public static class DirectiveResultHandler
{
    public static Task Handle(DirectiveResult result, DirectiveResults results, CancellationToken cancellationToken) =>
        results.RecordAsync(result, cancellationToken);
}
