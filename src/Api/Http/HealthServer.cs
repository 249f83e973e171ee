using System.Net;
using HA.Agent.Runtime;
using HA.Core.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace HA.Api.Http;

/// <summary>
/// The node's health endpoints over HTTP (<c>api.listen</c>), with Patroni's meaning and status codes so
/// load balancers and orchestrators written for Patroni keep working: <c>/liveness</c> says whether the
/// agent's loop runs (200, or 503 when its last round is older than the lease ttl) — paused or not —;
/// <c>/readiness</c> whether this node serves (200 when its PostgreSQL runs as the primary holding the
/// lease or as a standby, else 503). GET and HEAD. The rest of the REST API comes with issue 9.
/// </summary>
public sealed class HealthServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HealthServer(WebApplication app) => _app = app;

    public static async Task<HealthServer> StartAsync(IPEndPoint listen, string node, NodeAgent agent, TimeSpan stalledAfter, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(listen));
        var app = builder.Build();
        string[] methods = ["GET", "HEAD"];
        app.MapMethods("/liveness", methods, () =>
        {
            var last = agent.LastRoundAt;
            var age = last is null ? (TimeSpan?)null : DateTimeOffset.UtcNow - last.Value;
            var running = age is { } a && a <= stalledAfter;
            return Results.Json(new
            {
                state = running ? "running" : "stalled",
                node,
                paused = agent.LastState?.Paused ?? false,
                last_round_ms_ago = age is { } ms ? (long)ms.TotalMilliseconds : (long?)null,
            }, statusCode: running ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapMethods("/readiness", methods, () =>
        {
            var beat = agent.CurrentHeartbeat();
            var ready = beat.PostgresRunning && (beat.InRecovery || agent.HoldsPrimaryLease);
            return Results.Json(new
            {
                state = ready ? "running" : "not ready",
                node,
                role = !beat.PostgresRunning ? "stopped" : beat.InRecovery ? "replica" : "primary",
                detail = beat.Detail,
            }, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new OperatorError($"api.listen {listen}: cannot listen there ({e.GetBaseException().Message})", e);
        }
        return new HealthServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
