using HA.Agent.Directives;
using HA.Core.Events;
using HA.Projections;
using Wolverine;
using Wolverine.Persistence.Durability;
using Wolverine.RDBMS;
using Wolverine.Runtime;

namespace HA.Api.Run;

/// <summary>
/// Sends directives to their agents' queues (Wolverine's PostgreSQL transport, in the witness
/// database) through Wolverine's outbox enlisted in the witness store's own append transaction: a
/// directive is delivered if and only if its DirectiveIssued event is committed (DESIGN §1).
/// </summary>
public sealed class DirectiveOutbox(IWolverineRuntime runtime)
{
    /// <summary>The queue of one node's agent; it names the cluster, so several clusters can share one witness database.</summary>
    public static Uri QueueFor(string cluster, string node) => new($"postgresql://{QueueName(cluster, node)}");

    public static string QueueName(string cluster, string node) => $"agent-{cluster}-{node}";

    /// <summary>The queue answers to the cluster's directives come back on (any pgha process of the cluster records them).</summary>
    public static string ResultQueueName(string cluster) => $"results-{cluster}";

    public AppendParticipant Participant(string cluster) => async (transaction, events, cancellationToken) =>
    {
        var bus = new MessageContext(runtime);
        await bus.EnlistInOutboxAsync(new DatabaseEnvelopeTransaction((IMessageDatabase)runtime.Storage, transaction));
        foreach (var directive in events.OfType<DirectiveIssued>())
            await bus.EndpointFor(QueueFor(cluster, directive.Node)).SendAsync(new DirectiveEnvelope(cluster, directive));
        return () => bus.FlushOutgoingMessagesAsync();
    };
}
