using Npgsql;

namespace HA.Projections;

/// <summary>
/// How every pgha session with the witness database is opened. A pgha process cut off in the middle of a
/// transaction (a partitioned node whose packets vanish) leaves its session on the witness "idle in
/// transaction", holding its locks — the cluster stream's row lock among them — until TCP notices,
/// which can take hours; meanwhile no coordinator could append, so no failover could be decided. The
/// server ends such a session after <see cref="IdleInTransactionTimeout"/> and frees its locks (the cut
/// transaction rolls back whole, as every append is one transaction).
/// </summary>
public static class WitnessSessions
{
    /// <summary>Far above the milliseconds between an append's statements, far below a lease's TTL.</summary>
    public static readonly TimeSpan IdleInTransactionTimeout = TimeSpan.FromSeconds(5);

    /// <summary><paramref name="connectionString"/> with the server-side limits of every witness session added.</summary>
    public static string ConnectionString(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var limit = $"-c idle_in_transaction_session_timeout={(int)IdleInTransactionTimeout.TotalMilliseconds}";
        builder.Options = string.IsNullOrWhiteSpace(builder.Options) ? limit : $"{builder.Options} {limit}";
        return builder.ConnectionString;
    }
}
