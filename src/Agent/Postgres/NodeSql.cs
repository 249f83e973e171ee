using Npgsql;

namespace HA.Agent.Postgres;

/// <summary>The SQL side of node actions: checkpoints and replication slots.</summary>
public static class NodeSql
{
    /// <summary>CHECKPOINT: before a planned demotion, so the shutdown checkpoint is short.</summary>
    public static Task CheckpointAsync(NodeSettings node, CancellationToken cancellationToken) =>
        ExecuteAsync(node, "CHECKPOINT", cancellationToken);

    /// <summary>
    /// Makes sure a new primary has a physical slot for each of its replicas (slots are not replicated,
    /// so a promoted standby has none), keeping the WAL they still need.
    /// </summary>
    public static async Task EnsureSlotsAsync(NodeSettings primary, IEnumerable<string> replicaNames, CancellationToken cancellationToken)
    {
        foreach (var replica in replicaNames)
        {
            await ExecuteAsync(primary,
                $"SELECT pg_create_physical_replication_slot('{NodeSettings.SlotNameFor(replica)}', true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '{NodeSettings.SlotNameFor(replica)}')",
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs one statement as the superuser over the node's Unix socket.</summary>
    public static async Task ExecuteAsync(NodeSettings node, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 300 };
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
