using HA.Agent.Postgres;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Runtime;

/// <summary>
/// The primary keeps a replication slot for every other member (a member that joined included) and
/// drops the pgha slots of nodes that left. Done again when the term or the members change, or while a
/// slot of a removed node is still in use.
/// </summary>
public sealed class ReplicationSlotKeeper(NodeSettings settings, ILogger logger)
{
    private string? _keptFor;

    public async Task KeepAsync(long primaryTerm, IReadOnlyList<string> members, CancellationToken cancellationToken)
    {
        var others = members.Where(n => n != settings.Name).ToList();
        var key = $"{primaryTerm}:{string.Join(",", others)}";
        if (key == _keptFor) return;
        try
        {
            await NodeSql.EnsureSlotsAsync(settings, others, cancellationToken).ConfigureAwait(false);
            var (dropped, inUse) = await NodeSql.DropSlotsOfNonMembersAsync(settings, members, cancellationToken).ConfigureAwait(false);
            foreach (var slot in dropped) logger.LogInformation("Agent {Node}: dropped replication slot {Slot}: its node is no longer a member", settings.Name, slot);
            // A removed node's standby may still stream for a moment: keep trying until its slot is free.
            _keptFor = inUse.Count == 0 ? key : null;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Agent {Node}: cannot keep the replication slots: {Error}", settings.Name, e.GetBaseException().Message);
        }
    }
}
