using System.Diagnostics;
using HA.Core.Events;

namespace HA.Agent.Directives;

/// <summary>
/// Runs the directives addressed to this node, one at a time: through the <see cref="DirectiveGate"/>,
/// to the handler of its kind, timed, with any failure reported as a result rather than thrown.
/// </summary>
public sealed class DirectiveRunner(NodeAgentContext node, TimeProvider time)
{
    private readonly DirectiveGate _gate = new();
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public async Task<DirectiveResult> RunAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_gate.Admit(envelope, time.GetUtcNow()) is { } answer) return answer;
            var clock = Stopwatch.StartNew();
            DirectiveResult result;
            try
            {
                var detail = await HandleAsync(envelope, cancellationToken).ConfigureAwait(false);
                result = new DirectiveResult(envelope.Cluster, envelope.Directive.DirectiveId, envelope.Directive.Node, true, clock.Elapsed, detail);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = new DirectiveResult(envelope.Cluster, envelope.Directive.DirectiveId, envelope.Directive.Node, false, clock.Elapsed, e.Message);
            }
            _gate.Record(result);
            return result;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private Task<string> HandleAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken) => envelope.Directive.Kind switch
    {
        DirectiveKind.Fence => FenceHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Promote => PromoteHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Demote => DemoteHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Repoint => RepointHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Rewind => RewindHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Reinitialize => ReinitializeHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Checkpoint => CheckpointHandler.HandleAsync(envelope, node, cancellationToken),
        _ => throw new NotSupportedException($"{envelope.Directive.Kind} is not supported by this agent version"),
    };
}
