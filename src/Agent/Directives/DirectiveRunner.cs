using System.Diagnostics;
using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>
/// Runs the directives addressed to this node, one at a time: through the <see cref="DirectiveGate"/>,
/// to the handler of its kind, timed, with any failure reported as a result rather than thrown.
/// </summary>
public sealed class DirectiveRunner(NodeAgentContext node, TimeProvider time, string? gateFile = null, IDirectiveHooks? hooks = null)
{
    private readonly DirectiveGate _gate = new(gateFile);

    public DirectiveGate Gate => _gate;
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
                if (hooks is not null) await hooks.BeforeAsync(envelope, cancellationToken).ConfigureAwait(false);
                var done = await HandleAsync(envelope, cancellationToken).ConfigureAwait(false);
                var detail = hooks is null ? done.Detail : await hooks.AfterAsync(envelope, done.Detail, cancellationToken).ConfigureAwait(false);
                result = DirectiveResult.For(envelope, true, clock.Elapsed, detail, done.Outcome);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = DirectiveResult.For(envelope, false, clock.Elapsed, e.Message);
            }
            _gate.Record(result);
            return result;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private Task<DirectiveAnswer> HandleAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken) => envelope.Directive.Directive switch
    {
        Fence fence => FenceHandler.HandleAsync(fence, node, cancellationToken),
        Promote promote => PromoteHandler.HandleAsync(envelope, promote, node, cancellationToken),
        Demote demote => DemoteHandler.HandleAsync(demote, node, cancellationToken),
        Repoint repoint => RepointHandler.HandleAsync(repoint, node, cancellationToken),
        Rewind rewind => RewindHandler.HandleAsync(rewind, node, cancellationToken),
        Reinitialize reinitialize => ReinitializeHandler.HandleAsync(reinitialize, node, cancellationToken),
        Checkpoint checkpoint => CheckpointHandler.HandleAsync(checkpoint, node, cancellationToken),
        ApplySynchronousStandbys synchronous => ApplyConfigHandler.HandleAsync(envelope, synchronous, node, cancellationToken),
        ApplyParameters parameters => ParametersHandler.HandleAsync(parameters, node, cancellationToken),
        Restart restart => RestartHandler.HandleAsync(envelope, restart, node, cancellationToken),
        var other => throw new NotSupportedException($"{other?.GetType().Name ?? envelope.Directive.Kind.ToString()} is not supported by this agent version"),
    };
}

/// <summary>What the node's agent does around a directive (take the primary lease before PROMOTE, give it up after FENCE).</summary>
public interface IDirectiveHooks
{
    /// <summary>Runs before the handler; throwing fails the directive without running it.</summary>
    Task BeforeAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken);

    /// <summary>Runs after a successful handler; returns the human detail to report (the typed outcome is the handler's).</summary>
    Task<string> AfterAsync(DirectiveEnvelope envelope, string detail, CancellationToken cancellationToken);
}
