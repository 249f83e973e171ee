using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HA.Api.Http;

/// <summary>
/// Prometheus' <c>/metrics</c> (text exposition format) from this node's <see cref="ClusterMetrics"/>,
/// and the middleware that times every API request by method, route and status.
/// </summary>
public static class MetricsEndpoint
{
    public static void Map(WebApplication app, ApiContext context)
    {
        var metrics = new ClusterMetrics(context);
        app.Use(async (http, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(http).ConfigureAwait(false);
            }
            finally
            {
                // The route template, not the path: one series per endpoint, whatever the ids in the URL.
                var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                metrics.RequestDuration.WithLabels(http.Request.Method, route, http.Response.StatusCode.ToString(CultureInfo.InvariantCulture))
                    .Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        });
        app.MapGet("/metrics", async (HttpResponse response, CancellationToken cancellationToken) =>
        {
            response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(response.Body, cancellationToken).ConfigureAwait(false);
        });
    }
}
