namespace HA.Core.Parameters;

/// <summary>
/// The PostgreSQL parameters pgha sets itself on every node (postgresql.pgha.conf, REPOINT, FENCE,
/// the coordinator's synchronous standby management): an operator may not set them cluster-wide,
/// and each says why. A value set with ALTER SYSTEM would override pgha's own, so they are refused
/// before anything is recorded.
/// </summary>
public static class ManagedParameters
{
    private const string PerNode = "pgha sets it per node from pgha.yaml (node.host, node.port, node.data_dir)";
    private const string Layout = "pgha lays out each node's data directory and configuration files itself";
    private const string Upstream = "pgha points each standby at the current primary itself (REPOINT after a failover or switchover)";
    private const string Recovery = "it would stop or redirect a standby's recovery, which pgha drives itself";

    private static readonly Dictionary<string, string> Reasons = new(StringComparer.Ordinal)
    {
        ["listen_addresses"] = PerNode,
        ["port"] = PerNode,
        ["unix_socket_directories"] = PerNode,
        ["cluster_name"] = "pgha names each node's server after the node",
        ["data_directory"] = Layout,
        ["config_file"] = Layout,
        ["hba_file"] = Layout,
        ["ident_file"] = Layout,
        ["hot_standby"] = "pgha needs every standby to answer queries (its probes, switchover checks and read routing)",
        ["wal_level"] = "streaming replication and pg_rewind need at least 'replica', which pgha sets",
        ["wal_log_hints"] = "pg_rewind needs it to rejoin a former primary",
        ["max_wal_senders"] = "pgha sizes it for the cluster's standbys, base backups and rewinds",
        ["max_replication_slots"] = "pgha keeps a replication slot per member",
        ["primary_conninfo"] = Upstream,
        ["primary_slot_name"] = Upstream,
        ["synchronous_standby_names"] = "the coordinator manages it from synchronous_mode",
        ["default_transaction_read_only"] = "pgha fences a primary with it",
        ["restore_command"] = Recovery,
        ["archive_cleanup_command"] = Recovery,
        ["recovery_end_command"] = Recovery,
        ["recovery_target"] = Recovery,
        ["recovery_target_action"] = Recovery,
        ["recovery_target_inclusive"] = Recovery,
        ["recovery_target_lsn"] = Recovery,
        ["recovery_target_name"] = Recovery,
        ["recovery_target_time"] = Recovery,
        ["recovery_target_timeline"] = Recovery,
        ["recovery_target_xid"] = Recovery,
        ["promote_trigger_file"] = Recovery,
        ["logging_collector"] = "pgha reads each server's log from the file pg_ctl writes, to explain a failed start",
        ["log_line_prefix"] = "pgha reads each server's log with the prefix it sets, to explain a failed start",
    };

    /// <summary>Why pgha keeps <paramref name="name"/> to itself, or null when an operator may set it.</summary>
    public static string? Reason(string name) => Reasons.GetValueOrDefault(name);

    public static IEnumerable<string> Names => Reasons.Keys;

    /// <summary>
    /// A standby must run with at least the primary's value of these, or PostgreSQL stops its recovery
    /// (DESIGN: a rolling restart restarts the standbys before the primary, so only raising them is safe).
    /// </summary>
    public static readonly IReadOnlySet<string> NotLowerOnStandby = new HashSet<string>(StringComparer.Ordinal)
    {
        "max_connections", "max_worker_processes", "max_prepared_transactions", "max_locks_per_transaction",
    };
}
