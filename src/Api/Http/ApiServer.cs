using System.Net;
using HA.Agent.Runtime;
using HA.Core.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace HA.Api.Http;

/// <summary>
/// The node's HTTP server on <c>api.listen</c>: each group of endpoints is mapped by its own class
/// (<see cref="HealthEndpoints"/>, <see cref="ReadEndpoints"/>, <see cref="EventStreamEndpoint"/>, …) from one <see cref="ApiContext"/>.
/// </summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ApiServer(WebApplication app) => _app = app;

    public static async Task<ApiServer> StartAsync(ApiContext context, CancellationToken cancellationToken)
    {
        // pgha.yaml is the only configuration. ASP.NET's defaults would read appsettings.json from the
        // content root (the directory pgha was started in) and, to reload it, watch that directory and
        // every one below it: started in /tmp or /, an agent scanned thousands of files a second.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(context.Config.ApiListen, listen =>
        {
            if (context.Config.ApiCertificate is { } certificate) listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        HealthEndpoints.Map(app, context);
        MetricsEndpoint.Map(app, context);
        ReadEndpoints.Map(app, context);
        EventStreamEndpoint.Map(app, context);
        ChangeEndpoints.Map(app, context);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new OperatorError($"api.listen {context.Config.ApiListen}: cannot listen there ({e.GetBaseException().Message})", e);
        }
        return new ApiServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
