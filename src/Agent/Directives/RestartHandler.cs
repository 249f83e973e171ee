using System.Globalization;
using HA.Agent.Postgres;
using HA.Core.Parameters;

namespace HA.Agent.Directives;

/// <summary>
/// RESTART: a standby is stopped (fast) and started again, so that parameters pending a restart take
/// effect; the answer says what is still pending. A primary is refused: it is restarted by switching
/// over (its demotion restarts it), never in place under its clients.
/// </summary>
public static class RestartHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        var instance = node.Instance;
        if (instance.ServerProcessId() is null) throw new InvalidOperationException("PostgreSQL is not running: not restarted");
        if (await NodeProbe.ReadAsync(instance.Settings, cancellationToken).ConfigureAwait(false) is { InRecovery: false })
            throw new InvalidOperationException("refused: this node accepts writes; a primary is restarted by a switchover");
        await instance.RestartAsync(StopMode.Fast, cancellationToken).ConfigureAwait(false);
        var pending = await PostgresParameters.PendingRestartAsync(instance.Settings, cancellationToken).ConfigureAwait(false);
        var version = envelope.Directive.Arguments.TryGetValue(ParameterDirective.VersionKey, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
        return ParameterDirective.Answer("restarted (fast)", version, pending);
    }
}
