using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using HA.Core.State;
using HA.Proxy.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Proxy;

/// <summary>
/// pgha's session-mode proxy: a primary-port and a replica-port listener, following the routing
/// table of <see cref="IRoutingSource"/>. When a table arrives in which a session's server no longer
/// is what its port promises (the primary was demoted or lost), that session is closed at once.
/// </summary>
public sealed class ProxyServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<ProxySession, byte> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(Socket Socket, Task Loop)> _listeners = [];

    private ProxyServer(ProxyOptions options, IRoutingSource routing, ProxyCounters counters, ILogger logger, IReplicaBalancer balancer)
    {
        Options = options;
        Routing = routing;
        Counters = counters;
        Logger = logger;
        Router = new BackendRouter(options.ReplicaFallback, balancer);
    }

    public ProxyOptions Options { get; }
    public IRoutingSource Routing { get; }
    public ProxyCounters Counters { get; }
    public CancelKeys CancelKeys { get; } = new();
    internal ILogger Logger { get; }
    internal BackendRouter Router { get; }

    /// <summary>Where the primary port listens (its real port when 0 was asked for).</summary>
    public IPEndPoint PrimaryEndpoint { get; private set; } = null!;

    /// <summary>Where the replica port listens.</summary>
    public IPEndPoint ReplicaEndpoint { get; private set; } = null!;

    /// <summary>Client sessions open now.</summary>
    public int OpenSessions => _sessions.Count;

    /// <summary>Binds both ports (a port in use fails here, naming it) and starts accepting.</summary>
    public static ProxyServer Start(ProxyOptions options, IRoutingSource routing, ILogger? logger = null, ProxyCounters? counters = null, IReplicaBalancer? balancer = null)
    {
        counters ??= new ProxyCounters();
        balancer ??= ReplicaBalancers.Create(options.ReplicaPolicy, counters, Random.Shared)
            ?? throw new ProxyStartError($"proxy.replica_policy: '{options.ReplicaPolicy}' is not one of {string.Join(", ", ReplicaBalancers.Names)}");
        var server = new ProxyServer(options, routing, counters, logger ?? NullLogger.Instance, balancer);
        try
        {
            server.PrimaryEndpoint = server.Listen(ProxyPort.Primary, options.PrimaryPort, "proxy.primary_port");
            server.ReplicaEndpoint = server.Listen(ProxyPort.Replica, options.ReplicaPort, "proxy.replica_port");
        }
        catch
        {
            server.StopListening();
            throw;
        }
        routing.Changed += server.OnRoutingChanged;
        return server;
    }

    private IPEndPoint Listen(ProxyPort port, int number, string key)
    {
        var socket = new Socket(Options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(Options.Listen, number));
            socket.Listen(1024);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ProxyStartError($"{key}: cannot listen on {Options.Listen}:{number}: {e.Message}");
        }
        var loop = Task.Run(() => AcceptLoopAsync(socket, port));
        _listeners.Add((socket, loop));
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    private async Task AcceptLoopAsync(Socket listener, ProxyPort port)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of descriptors or a reset before accept: this client is lost, the listener goes on.
                Counters.Error();
                Logger.LogWarning("proxy: accept on the {Port} port failed: {Error}", port, e.Message);
                continue;
            }
            client.NoDelay = true;
            Counters.ClientAccepted();
            var session = new ProxySession(client, port, this);
            _sessions[session] = 0;
            _ = Task.Run(async () =>
            {
                try { await session.RunAsync(_stop.Token).ConfigureAwait(false); }
                catch (Exception e)
                {
                    Counters.Error();
                    Logger.LogWarning(e, "proxy: a {Port}-port session failed", port);
                }
                finally { _sessions.TryRemove(session, out _); }
            });
        }
    }

    private void OnRoutingChanged(RoutingTable table)
    {
        foreach (var session in _sessions.Keys)
        {
            if (session.Backend is { } backend && !Router.MayStay(session.Port, backend, table))
            {
                var now = table.Primary is { } p ? $"the primary is now {p.Node}" : "the cluster has no primary";
                session.Close(session.Port == ProxyPort.Primary
                    ? $"{backend.Node} is no longer the primary ({now}, term {table.Term})"
                    : $"{backend.Node} no longer serves reads (routing version {table.Version})");
            }
        }
    }

    private void StopListening()
    {
        _stop.Cancel();
        foreach (var (socket, _) in _listeners) socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Routing.Changed -= OnRoutingChanged;
        StopListening();
        foreach (var (_, loop) in _listeners) await loop.ConfigureAwait(false);
        foreach (var session in _sessions.Keys) session.Close("the proxy is stopping");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!_sessions.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(20).ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>The proxy could not start; the message names the setting.</summary>
public sealed class ProxyStartError(string message) : Exception(message);
