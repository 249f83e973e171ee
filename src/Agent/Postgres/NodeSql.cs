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

    /// <summary>
    /// Drops the inactive pgha slots (<c>pgha_*</c>) of nodes that are no longer members, so a removed
    /// node does not hold WAL on the primary forever; a slot still in use (its standby still streams) is
    /// left for a later round. Slots pgha did not create are never touched.
    /// </summary>
    /// <returns>the slots dropped, and those of non-members still in use</returns>
    public static async Task<(IReadOnlyList<string> Dropped, IReadOnlyList<string> InUse)> DropSlotsOfNonMembersAsync(NodeSettings primary, IEnumerable<string> memberNames, CancellationToken cancellationToken)
    {
        var keep = memberNames.Select(NodeSettings.SlotNameFor).ToArray();
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(primary));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var stale = new List<(string Slot, bool Active)>();
        await using (var list = new NpgsqlCommand(
            "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name LIKE 'pgha\\_%' AND NOT (slot_name = ANY(@keep)) ORDER BY slot_name", connection))
        {
            list.Parameters.AddWithValue("keep", keep);
            await using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) stale.Add((reader.GetString(0), reader.GetBoolean(1)));
        }
        var dropped = new List<string>();
        foreach (var (slot, _) in stale.Where(s => !s.Active).ToList())
        {
            await using var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = @slot AND NOT active", connection);
            drop.Parameters.AddWithValue("slot", slot);
            try
            {
                await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                dropped.Add(slot);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse)
            {
                // Its walsender came back between the list and the drop: next round.
                stale.Add((slot, true));
            }
        }
        return (dropped, [.. stale.Where(s => s.Active).Select(s => s.Slot).Distinct()]);
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
