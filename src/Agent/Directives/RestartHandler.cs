using HA.Agent.Postgres;
using HA.Core.Directives;
using HA.Core.Parameters;

namespace HA.Agent.Directives;

/// <summary>
/// RESTART: a standby is stopped (fast) and started again, so that parameters pending a restart take
/// effect; it answers once the standby streams from its upstream again (a rolling restart restarts
/// the next node only then), saying what is still pending. A primary is refused: it is restarted by
/// switching over (its demotion restarts it), never in place under its clients.
/// </summary>
public static class RestartHandler
{
    private static readonly TimeSpan StreamingWithin = TimeSpan.FromSeconds(60);

    public static async Task<DirectiveAnswer> HandleAsync(DirectiveEnvelope envelope, Restart directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var instance = node.Instance;
        if (instance.ServerProcessId() is null) throw new InvalidOperationException("PostgreSQL is not running: not restarted");
        if (await NodeProbe.ReadAsync(instance.Settings, cancellationToken).ConfigureAwait(false) is { InRecovery: false })
            throw new InvalidOperationException("refused: this node accepts writes; a primary is restarted by a switchover");
        await instance.RestartAsync(StopMode.Fast, cancellationToken).ConfigureAwait(false);

        // Answered only once it streams again, so the heartbeat that said "streaming" before the restart cannot be taken for it.
        var restartedAt = DateTimeOffset.UtcNow;
        var deadline = Min(envelope.Directive.ExpiresAt, restartedAt + StreamingWithin);
        var probe = await NodeProbe.ReadAsync(instance.Settings, cancellationToken).ConfigureAwait(false);
        while (!probe.IsStreamingReplica)
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new InvalidOperationException($"restarted, but its WAL receiver is {probe.WalReceiverStatus ?? "not running"}, not streaming, {(DateTimeOffset.UtcNow - restartedAt).TotalSeconds:0} s later");
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            probe = await NodeProbe.ReadAsync(instance.Settings, cancellationToken).ConfigureAwait(false);
        }
        var pending = (await PostgresParameters.PendingRestartAsync(instance.Settings, cancellationToken).ConfigureAwait(false)).Order(StringComparer.Ordinal).ToList();
        var upstream = node.UpstreamOf(probe) ?? $"{probe.UpstreamHost}:{probe.UpstreamPort}";
        return new(new Restarted(directive.ParametersVersion, upstream, pending), ParameterDirective.Answer($"restarted (fast), streaming from {upstream}", directive.ParametersVersion, pending));
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
