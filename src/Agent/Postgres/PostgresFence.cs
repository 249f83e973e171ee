using Npgsql;

namespace HA.Agent.Postgres;

/// <summary>
/// Fencing a primary (DESIGN §3.1): first refuse new writes at once — every new transaction read-only,
/// every client session terminated — then stop the server. If PostgreSQL does not answer, it is
/// stopped at once (immediate), and killed if even that fails. Idempotent.
/// </summary>
public static class PostgresFence
{
    public static async Task<string> FenceAsync(PostgresInstance instance, CancellationToken cancellationToken)
    {
        var steps = new List<string>();
        if (instance.ServerProcessId() is null) return "already stopped";
        try
        {
            using var quick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            quick.CancelAfter(TimeSpan.FromSeconds(2));
            await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(instance.Settings));
            await connection.OpenAsync(quick.Token).ConfigureAwait(false);
            await using var readOnly = new NpgsqlCommand(
                """
                ALTER SYSTEM SET default_transaction_read_only = on;
                SELECT pg_reload_conf();
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();
                """, connection);
            await readOnly.ExecuteNonQueryAsync(quick.Token).ConfigureAwait(false);
            steps.Add("writes refused, client sessions terminated");
            await instance.StopAsync(StopMode.Fast, cancellationToken).ConfigureAwait(false);
            steps.Add("stopped (fast)");
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or PostgresCommandFailed && !cancellationToken.IsCancellationRequested)
        {
            steps.Add($"could not fence over SQL ({e.GetBaseException().Message})");
            try
            {
                await instance.StopAsync(StopMode.Immediate, cancellationToken).ConfigureAwait(false);
                steps.Add("stopped (immediate)");
            }
            catch (PostgresCommandFailed)
            {
                if (instance.ServerProcessId() is { } pid)
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                    steps.Add($"postmaster {pid} killed");
                }
            }
        }
        return string.Join("; ", steps);
    }

    /// <summary>Undoes the read-only setting a fence left, before the node serves again (as a replica or promoted).</summary>
    public static async Task ClearAsync(PostgresInstance instance, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(instance.Settings));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf();", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
