using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// Patroni's <c>/liveness</c> and <c>/readiness</c>, with its meaning and status codes so load balancers
/// and orchestrators written for Patroni keep working: <c>/liveness</c> says whether the agent's loop runs
/// (200, or 503 when its last round is older than the lease ttl) — paused or not —; <c>/readiness</c>
/// whether this node serves (200 when its PostgreSQL runs as the primary holding the lease or as a
/// standby, else 503). GET and HEAD.
/// </summary>
public static class HealthEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        string[] methods = ["GET", "HEAD"];
        app.MapMethods("/liveness", methods, () =>
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
        app.MapMethods("/readiness", methods, () =>
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
    }
}
