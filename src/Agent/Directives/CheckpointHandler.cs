using HA.Agent.Postgres;

namespace HA.Agent.Directives;

/// <summary>CHECKPOINT: before a planned demotion, so its shutdown checkpoint is short.</summary>
public static class CheckpointHandler
{
    public static async Task<string> HandleAsync(DirectiveEnvelope envelope, NodeAgentContext node, CancellationToken cancellationToken)
    {
        await NodeSql.CheckpointAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false);
        return "checkpoint done";
    }
}
