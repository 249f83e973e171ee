using HA.Api.Config;
using HA.Core.Errors;
using HA.Projections;
using HA.Proxy;
using Microsoft.Extensions.Logging;

namespace HA.Api.Proxying;

/// <summary>The proxy and the routing source it follows, started and stopped together (by pgha proxy and pgha run).</summary>
public sealed class RunningProxy : IAsyncDisposable
{
    private readonly WitnessRoutingSource _routing;

    private RunningProxy(WitnessRoutingSource routing, ProxyServer server)
    {
        _routing = routing;
        Server = server;
    }

    public ProxyServer Server { get; }

    public static async Task<RunningProxy> StartAsync(PghaConfig config, WitnessStore witness, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var logger = logs.CreateLogger("proxy");
        var routing = await WitnessRoutingSource.StartAsync(witness, config.Witness, config.Cluster, config.Proxy.MaxReplicaLag, logger, cancellationToken);
        try
        {
            var server = ProxyServer.Start(config.Proxy.Options, routing, logger);
            logger.LogInformation("proxy: primary port {Primary}, replica port {Replica} (fallback {Fallback}), following cluster {Cluster}",
                server.PrimaryEndpoint, server.ReplicaEndpoint, config.Proxy.Options.ReplicaFallback.ToString().ToLowerInvariant(), config.Cluster);
            return new RunningProxy(routing, server);
        }
        catch (ProxyStartError e)
        {
            await routing.DisposeAsync();
            throw new OperatorError(e.Message, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await _routing.DisposeAsync();
    }
}
