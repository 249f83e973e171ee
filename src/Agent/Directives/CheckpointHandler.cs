using HA.Agent.Postgres;
using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>CHECKPOINT: before a planned demotion, so its shutdown checkpoint is short.</summary>
public static class CheckpointHandler
{
    public static async Task<DirectiveAnswer> HandleAsync(Checkpoint directive, NodeAgentContext node, CancellationToken cancellationToken)
    {
        await NodeSql.CheckpointAsync(node.Instance.Settings, cancellationToken).ConfigureAwait(false);
        return new(new Checkpointed(), "checkpoint done");
    }
}
