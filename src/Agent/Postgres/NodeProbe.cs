using System.Globalization;
using HA.Core.Replication;
using Npgsql;

namespace HA.Agent.Postgres;

/// <summary>Reads a node's replication state over SQL through its Unix socket.</summary>
public static class NodeProbe
{
    private const string StateQuery = """
        SELECT pg_is_in_recovery(),
               CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
               pg_last_wal_receive_lsn()::text,
               pg_last_wal_replay_lsn()::text,
               CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END,
               (SELECT timeline_id FROM pg_control_checkpoint()),
               (SELECT received_tli FROM pg_stat_wal_receiver),
               (SELECT status FROM pg_stat_wal_receiver),
               (SELECT sender_host FROM pg_stat_wal_receiver),
               (SELECT sender_port FROM pg_stat_wal_receiver)
        """;

    private const string ReplicationQuery = """
        SELECT application_name, client_addr::text, state, sent_lsn::text, flush_lsn::text, replay_lsn::text, sync_state
        FROM pg_stat_replication ORDER BY application_name
        """;

    /// <summary>A connection string for the node's superuser over its Unix socket (trusted locally).</summary>
    public static string ConnectionString(NodeSettings node, string database = "postgres") =>
        new NpgsqlConnectionStringBuilder
        {
            Host = node.SocketDirectory,
            Port = node.Port,
            Username = node.Superuser,
            Database = database,
            Pooling = false,
            Timeout = 5,
            CommandTimeout = 10,
            ApplicationName = "pgha",
        }.ConnectionString;

    public static async Task<NodeState> ReadAsync(NodeSettings node, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(node));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

        bool inRecovery;
        Lsn? current, received, replayed;
        int timeline;
        string? receiverStatus, upstreamHost;
        int? upstreamPort;
        await using (var command = new NpgsqlCommand(StateQuery, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            inRecovery = reader.GetBoolean(0);
            current = ReadLsn(reader, 1);
            received = ReadLsn(reader, 2);
            replayed = ReadLsn(reader, 3);
            var walTimeline = reader.IsDBNull(4) ? (int?)null : int.Parse(reader.GetString(4), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var checkpointTimeline = reader.GetInt32(5);
            var receivedTimeline = reader.IsDBNull(6) ? (int?)null : reader.GetInt32(6);
            timeline = walTimeline ?? receivedTimeline ?? checkpointTimeline;
            receiverStatus = reader.IsDBNull(7) ? null : reader.GetString(7);
            upstreamHost = reader.IsDBNull(8) ? null : reader.GetString(8);
            upstreamPort = reader.IsDBNull(9) ? null : reader.GetInt32(9);
        }

        var connections = new List<ReplicationConnection>();
        await using (var command = new NpgsqlCommand(ReplicationQuery, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var replay = ReadLsn(reader, 5);
                connections.Add(new ReplicationConnection(
                    ApplicationName: reader.GetString(0),
                    ClientAddress: reader.IsDBNull(1) ? null : reader.GetString(1),
                    State: reader.IsDBNull(2) ? "unknown" : reader.GetString(2),
                    SentLsn: ReadLsn(reader, 3),
                    FlushLsn: ReadLsn(reader, 4),
                    ReplayLsn: replay,
                    SyncState: reader.IsDBNull(6) ? "unknown" : reader.GetString(6),
                    LagBytes: current is { } primaryAt && replay is { } replayAt ? Lsn.BytesBehind(primaryAt, replayAt) : null));
            }
        }
        return new NodeState(inRecovery, timeline, current, received, replayed, receiverStatus, upstreamHost, upstreamPort, connections);
    }

    private static Lsn? ReadLsn(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Lsn.Parse(reader.GetString(ordinal));
}
