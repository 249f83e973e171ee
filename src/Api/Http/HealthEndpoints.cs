using HA.Agent.Gossip;
using HA.Agent.Postgres;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace HA.Api.Http;

/// <summary>
/// Patroni's health endpoints at the root, with its meaning and status codes so load balancers
/// (HAProxy's <c>option httpchk</c>), Consul checks and orchestrators written for Patroni keep working:
/// 200 when the node is what the path asks, else 503; GET answers with a JSON document, HEAD and
/// OPTIONS with the status alone. <c>/liveness</c> says whether the agent's loop runs (its last round
/// within the lease ttl, paused or not); <c>/readiness</c> whether this node serves (the primary
/// holding the lease, or a standby). The checks themselves are <see cref="PatroniChecks"/>.
/// </summary>
public static class HealthEndpoints
{
    private static readonly string[] Methods = ["GET", "HEAD", "OPTIONS"];

    private static readonly (string Path, PatroniCheck Check)[] Checks =
    [
        ("/", PatroniCheck.Primary), // Patroni answers its bare root like /primary
        ("/primary", PatroniCheck.Primary),
        ("/master", PatroniCheck.Primary),
        ("/read-write", PatroniCheck.Primary),
        ("/leader", PatroniCheck.Leader),
        ("/replica", PatroniCheck.Replica),
        ("/read-only", PatroniCheck.ReadOnly),
        ("/synchronous", PatroniCheck.Synchronous),
        ("/sync", PatroniCheck.Synchronous),
        ("/asynchronous", PatroniCheck.Asynchronous),
        ("/async", PatroniCheck.Asynchronous),
        ("/health", PatroniCheck.Health),
    ];

    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapMethods("/liveness", Methods, () =>
        {
            var last = context.Agent.LastRoundAt;
            var age = last is null ? (TimeSpan?)null : DateTimeOffset.UtcNow - last.Value;
            var running = age is { } a && a <= context.Config.Lease.Ttl;
            return Results.Json(new
            {
                state = running ? "running" : "stalled",
                node = context.Node,
                paused = context.Agent.LastState?.Paused ?? false,
                last_round_ms_ago = age is { } ms ? (long)ms.TotalMilliseconds : (long?)null,
            }, statusCode: running ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapMethods("/readiness", Methods, () =>
        {
            var beat = context.Agent.CurrentHeartbeat();
            var ready = beat.PostgresRunning && (beat.InRecovery || context.Agent.HoldsPrimaryLease);
            return Results.Json(new
            {
                state = ready ? "running" : "not ready",
                node = context.Node,
                role = !beat.PostgresRunning ? "stopped" : beat.InRecovery ? "replica" : "primary",
                detail = beat.Detail,
            }, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        foreach (var (path, check) in Checks)
            app.MapMethods(path, Methods, (HttpRequest request, CancellationToken cancellationToken) => AnswerAsync(context, check, request, cancellationToken));
    }

    private static async Task<IResult> AnswerAsync(ApiContext context, PatroniCheck check, HttpRequest request, CancellationToken cancellationToken)
    {
        var (lag, error) = PatroniChecks.ReadLag(request.Query.TryGetValue("lag", out var text) ? text.ToString() : null);
        if (error is not null) return ApiProblems.BadParameter("lag", error);
        var beat = context.Agent.CurrentHeartbeat();
        var node = Snapshot(context, beat);
        if (lag is { Delay: not null } && node.PostgresRunning && node.InRecovery)
            node = node with { LagDelay = await ReplayDelayAsync(context, cancellationToken).ConfigureAwait(false) };
        var query = request.Query.Select(q => new KeyValuePair<string, string>(q.Key, q.Value.ToString()));
        var (passes, reason) = PatroniChecks.Evaluate(check, node, lag, query);
        return Results.Json(new
        {
            state = node.PostgresRunning ? "running" : "stopped",
            role = node.Role,
            node = context.Node,
            cluster = context.Config.Cluster,
            check = passes ? "passes" : "fails",
            reason,
            timeline = beat.Timeline,
            xlog = beat.InRecovery
                ? (object)new { received_location = beat.ReceivedLsn, replayed_location = beat.ReplayedLsn }
                : new { location = beat.CurrentLsn },
            holds_primary_lease = node.HoldsPrimaryLease,
            lag_bytes = node.LagBytes,
            lag_seconds = node.LagDelay?.TotalSeconds,
            sync_standby = node.SynchronousStandby,
            tags = node.Tags,
            detail = beat.Detail,
        }, statusCode: passes ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>This node as its agent sees it now, with what the cluster's log says of it and its lag behind the primary's last heartbeat.</summary>
    internal static HealthSnapshot Snapshot(ApiContext context, Heartbeat beat)
    {
        var state = context.Agent.LastState;
        var me = state?.Nodes.GetValueOrDefault(context.Node);
        return new HealthSnapshot
        {
            Node = context.Node,
            PostgresRunning = beat.PostgresRunning,
            InRecovery = beat.InRecovery,
            HoldsPrimaryLease = context.Agent.HoldsPrimaryLease,
            Detached = me?.Detached ?? false,
            NoFailover = me?.NoFailover ?? false,
            FailoverPriority = me?.FailoverPriority ?? 0,
            SynchronousStandby = state?.SynchronousStandbys.Contains(context.Node, StringComparer.Ordinal) ?? false,
            LagBytes = beat.InRecovery ? LagBytes(state, context.Heartbeats(), beat) : null,
        };
    }

    /// <summary>
    /// Bytes <paramref name="standby"/> has still to replay to reach the position of the primary the log
    /// names, as its last heartbeat gave it; null when that position is not known.
    /// </summary>
    internal static long? LagBytes(ClusterState? state, IReadOnlyDictionary<string, ReceivedHeartbeat> heartbeats, Heartbeat standby)
    {
        if (!standby.InRecovery || state?.Primary is not { } primary || !heartbeats.TryGetValue(primary, out var received)) return null;
        if (received.Heartbeat is not { PostgresRunning: true, InRecovery: false } p || !Lsn.TryParse(p.CurrentLsn, out var at)) return null;
        return Lsn.BytesBehind(at, Lsn.TryParse(standby.ReplayedLsn, out var replayed) ? replayed : Lsn.Zero);
    }

    /// <summary>
    /// How far behind the primary this standby's replay is in time: zero once it has replayed all it
    /// received, else the age of the last transaction it replayed (or, when it has replayed none since it
    /// started, the time since it started): asked of PostgreSQL at the request.
    /// </summary>
    internal static async Task<TimeSpan?> ReplayDelayAsync(ApiContext context, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
                        WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
                        ELSE extract(epoch FROM clock_timestamp() - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time()))::float8 END
            """;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(context.Agent.PostgresSettings));
            await connection.OpenAsync(deadline.Token).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(sql, connection);
            var value = await command.ExecuteScalarAsync(deadline.Token).ConfigureAwait(false);
            return value is double seconds ? TimeSpan.FromSeconds(Math.Max(0, seconds)) : null;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            // Not known: Patroni too passes a lag check it cannot measure.
            return null;
        }
    }
}
