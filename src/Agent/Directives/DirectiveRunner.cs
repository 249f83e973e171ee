using System.Diagnostics;
using HA.Core.Events;
using HA.Core.Parameters;

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
                var detail = await HandleAsync(envelope, cancellationToken).ConfigureAwait(false);
                if (hooks is not null) detail = await hooks.AfterAsync(envelope, detail, cancellationToken).ConfigureAwait(false);
                result = DirectiveResult.For(envelope, true, clock.Elapsed, detail);
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

    private Task<string> HandleAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken) => envelope.Directive.Kind switch
    {
        DirectiveKind.Fence => FenceHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Promote => PromoteHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Demote => DemoteHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Repoint => RepointHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Rewind => RewindHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Reinitialize => ReinitializeHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Checkpoint => CheckpointHandler.HandleAsync(envelope, node, cancellationToken),
        // APPLY_CONFIG carries either the cluster's parameters or synchronous_standby_names: told apart by its argument keys.
        DirectiveKind.ApplyConfig when ParameterDirective.Carries(envelope.Directive.Arguments) => ParametersHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.ApplyConfig => ApplyConfigHandler.HandleAsync(envelope, node, cancellationToken),
        DirectiveKind.Restart => RestartHandler.HandleAsync(envelope, node, cancellationToken),
        _ => throw new NotSupportedException($"{envelope.Directive.Kind} is not supported by this agent version"),
    };
}

/// <summary>What the node's agent does around a directive (take the primary lease before PROMOTE, give it up after FENCE).</summary>
public interface IDirectiveHooks
{
    /// <summary>Runs before the handler; throwing fails the directive without running it.</summary>
    Task BeforeAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken);

    /// <summary>Runs after a successful handler; returns the detail to report.</summary>
    Task<string> AfterAsync(DirectiveEnvelope envelope, string detail, CancellationToken cancellationToken);
}
