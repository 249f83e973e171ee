using System.Runtime.InteropServices;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HA.Agent.Coordinator;
using HA.Agent.Directives;
using HA.Agent.Gossip;
using HA.Agent.Postgres;
using HA.Agent.Runtime;
using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Coordinator;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.Leases;
using HA.Projections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Wolverine.Runtime;

namespace HA.Api.Run;

/// <summary>
/// <c>pgha run --config pgha.yaml</c>: the agent of one node and its coordinator candidacy in one
/// process (DESIGN §2). Everything is checked and opened before anything acts: a bad key, an
/// unreachable witness or lease store, a gossip port in use stop the start with one line.
/// </summary>
public static class RunCommand
{
    public const string Help = """
        pgha run — run the agent of one node (and its coordinator candidacy)

        usage: pgha run --config FILE [--log-level LEVEL]

        Reads and checks FILE (see docs/configuration.md; PGHA__SECTION__KEY variables override it),
        connects to the witness store and the lease store, then probes and manages the node's
        PostgreSQL, gossips with the other members, runs the coordinator's directives and campaigns
        to be the coordinator. SIGTERM or Ctrl-C stops it: the leases are released and PostgreSQL is
        stopped (a primary's replicas take over).

        A node the cluster's log does not name yet joins it (NodeJoined): list the existing members
        and the node itself in FILE, leave node.data_dir empty, and the agent takes a base backup from
        the current primary (through its own replication slot) and streams from it. Removed with
        'pgha member remove', the agent stops its PostgreSQL and exits; it does not join again by itself.

        With a proxy section in FILE (proxy.primary_port, proxy.replica_port, ...), the node also runs
        the proxy (docs/proxy.md); without one it does not.

        examples:
          pgha run --config /etc/pgha/pgha.yaml
          pgha run --config n4.yaml          # a new replica: n4.yaml lists n1, n2, n3 and n4

        options:
          --config FILE        the node's pgha.yaml
          --log-level LEVEL    debug, information (default), warning or error
          --keep-postgres      leave a standby's PostgreSQL running when the agent stops (its reads go on);
                               a primary is stopped anyway, since its lease is released
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken stopping)
    {
        var cli = CommandLine.Parse("pgha run", arguments, ["--config", "--log-level"], ["--keep-postgres"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var path = cli.Value("--config") ?? throw new UsageError("pgha run needs --config FILE");
        var level = AgentHost.LogLevelOption(cli.Value("--log-level"));
        var config = PghaConfig.Load(path).RequireRunnable(Path.GetFileName(path));
        ClusterMembership.CheckDataDirectory(config);
        await using var node = await RunningNode.OpenAsync(config, path, level, stopping);
        if (await node.RunAsync(keepPostgres: cli.Has("--keep-postgres"), stopping) is { } ending) output.WriteLine($"pgha run: {ending}");
        return 0;
    }
}

/// <summary>One node's agent, gossip, coordinator candidacy and message host, opened together and stopped together.</summary>
internal sealed class RunningNode : IAsyncDisposable
{
    private readonly List<Func<ValueTask>> _close = [];
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PghaConfig _config = null!;
    private string _configFile = "";
    private ClusterMembers _members = null!;
    private ILoggerFactory _logs = null!;
    private ILogger _logger = null!;
    private PostgresInstance _instance = null!;
    private WitnessStore _witness = null!;
    private ILeaseStore _leases = null!;
    private NodeAgent _agent = null!;
    private GossipNode? _gossip;
    private IHost _host = null!;
    private LeaseWatchdog _watchdog = null!;

    public static async Task<RunningNode> OpenAsync(PghaConfig config, string configFile, LogLevel level, CancellationToken cancellationToken)
    {
        var node = new RunningNode { _config = config, _configFile = configFile };
        try
        {
            await node.OpenPartsAsync(level, cancellationToken);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    private async Task OpenPartsAsync(LogLevel level, CancellationToken cancellationToken)
    {
        var config = _config;
        _logs = LoggerFactory.Create(logging => AgentHost.ConfigureLogging(logging, level));
        _close.Add(() => { _logs.Dispose(); return ValueTask.CompletedTask; });
        _logger = _logs.CreateLogger("pgha");

        var binaries = await PostgresBinaries.LocateAsync(config.PostgresBinDirectory, cancellationToken);
        var osUser = await PostgresOsUser.ResolveAsync(config.PostgresOsUser, cancellationToken);
        var settings = new NodeSettings
        {
            Name = config.Node.Name,
            NodeDirectory = Path.GetFullPath(config.DataDirectory),
            Port = config.Node.Port,
            ListenAddress = config.Node.Host,
            HbaNetworks = [.. config.Members.Select(m => ClusterMembers.HostNetwork(m.Host)).Append("127.0.0.1/32").Append("::1/128").Distinct()],
        };
        _instance = new PostgresInstance(settings, binaries, osUser);
        var credentials = new ClusterCredentials(config.SuperuserPassword!, config.ReplicationPassword!);
        _members = new ClusterMembers(config.Members.ToDictionary(m => m.Name, m => new MemberAddress(m.Host, m.Port, m.GossipPort), StringComparer.Ordinal));

        _witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        _close.Add(() => _witness.DisposeAsync());
        // A node the log does not name yet may join: refused here, before anything starts, when it may not.
        var joining = await ReadStateAsync(cancellationToken) is { } existing && await ClusterMembership.MayJoinAsync(_witness, config, existing, _configFile, cancellationToken);
        _leases = await config.Lease.OpenAsync(cancellationToken);
        _close.Add(() => _leases.DisposeAsync());

        // The watchdog: if this process dies, or stalls past a renewal deadline, a primary it keeps is stopped at once.
        _watchdog = LeaseWatchdog.Start(_instance.StopPrimaryScript(), Path.Combine(settings.NodeDirectory, "agent-watchdog.log"));
        _close.Add(() => { _watchdog.Dispose(); return ValueTask.CompletedTask; });

        _agent = new NodeAgent(new NodeAgentOptions
        {
            Cluster = config.Cluster,
            Context = new NodeAgentContext(_instance, credentials, _members),
            Members = _members,
            HealthInterval = config.HealthInterval,
            PrimaryRestartTimeout = config.Detection.PrimaryRestartTimeout,
            PrimaryLease = config.Lease.Timings,
            Failsafe = config.Lease.Failsafe,
            StateDirectory = Path.Combine(settings.NodeDirectory, "agent"),
        }, _leases, ReadStateAsync, TimeProvider.System, _logs.CreateLogger("agent"))
        { Watchdog = _watchdog };
        _close.Add(() => _agent.DisposeAsync());
        // One round before the first heartbeat goes out, so peers never hear "not running" from a node just starting.
        await _agent.TickAsync(cancellationToken);

        HA.Api.Proxying.RunningProxy? proxy = null;
        if (config.Proxy.Configured)
        {
            proxy = await HA.Api.Proxying.RunningProxy.StartAsync(config, _witness, _logs, cancellationToken);
            _close.Add(() => proxy.DisposeAsync());
        }

        var apiContext = new HA.Api.Http.ApiContext
        {
            Config = config,
            ConfigFile = Path.GetFullPath(_configFile),
            Agent = _agent,
            Witness = _witness,
            Heartbeats = Heartbeats,
            Proxy = proxy,
            Leases = _leases,
        };
        var api = await HA.Api.Http.ApiServer.StartAsync(apiContext, cancellationToken);
        _close.Add(() => api.DisposeAsync());
        // SIGHUP reloads the safe settings, as `pgha reload` does (DESIGN §10).
        var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
        {
            signal.Cancel = true;
            _logger.LogInformation("SIGHUP: {Reload}", HA.Api.Http.ConfigReload.Reload(apiContext).Message);
        });
        _close.Add(() => { hangup.Dispose(); return ValueTask.CompletedTask; });

        _gossip = GossipNode.Start(new GossipOptions
        {
            Cluster = config.Cluster,
            Node = config.Node.Name,
            Bind = new IPEndPoint(Address(config.Node.Host, "node.host"), config.Node.GossipPort),
            Peers = config.Members.Where(m => m.Name != config.Node.Name)
                .ToDictionary(m => m.Name, m => new IPEndPoint(Address(m.Host, $"members.{m.Name}.host"), m.GossipPort), StringComparer.Ordinal),
            Secret = Encoding.UTF8.GetBytes(config.GossipSecret!),
            Interval = config.HealthInterval,
        }, _agent.CurrentHeartbeat, TimeProvider.System, _logs.CreateLogger("gossip"));
        _close.Add(() => _gossip.DisposeAsync());
        _agent.PeerHeartbeats = () => _gossip.Latest;
        _members.Changed += OnMembersChanged;
        if (_agent.LastState is { } known) _members.Update(known);
        OnMembersChanged(_members.Current);

        var parts = new AgentHost.Parts { Agent = _agent };
        _host = AgentHost.Build(config.WitnessConnectionString, config.WitnessSchema + "_wolverine", config.Cluster, config.Node.Name, config.Members.Select(m => m.Name), parts, level);
        parts.Results = new DirectiveResults(_witness, _host.Services.GetRequiredService<ILogger<DirectiveResults>>());
        try
        {
            await _host.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _host.Dispose();
            throw new OperatorError($"cannot start the directive queues in the witness database: {e.GetBaseException().Message}; check witness.connection_string", e);
        }
        _close.Add(async () => { await _host.StopAsync(CancellationToken.None); _host.Dispose(); });

        // Recorded only now: from NodeJoined on, the coordinator may send directives to this node's queue, which listens.
        _agent.NotAMember = NotAMemberAsync;
        if (joining && await ReadStateAsync(cancellationToken) is { } current && !current.Nodes.ContainsKey(config.Node.Name))
        {
            var joined = await ClusterMembership.JoinAsync(_witness, config, current, _configFile, cancellationToken);
            _logger.LogInformation("pgha run: {Node} joined cluster {Cluster} at version {Version} as a replica ({Host}:{Port})", config.Node.Name, config.Cluster, joined.Version, config.Node.Host, config.Node.Port);
        }
    }

    /// <summary>Gossip follows the members the log names: a member that joined is heard, one that left is not.</summary>
    private void OnMembersChanged(IReadOnlyDictionary<string, MemberAddress> members)
    {
        if (_gossip is null) return;
        var peers = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        foreach (var (name, member) in members.Where(m => m.Key != _config.Node.Name))
        {
            try
            {
                peers[name] = new IPEndPoint(Address(member.Host, $"members.{name}.host"), member.GossipPort);
            }
            catch (OperatorError e)
            {
                _logger.LogWarning("pgha run: not gossiping with {Peer}: {Error}", name, e.Message);
            }
        }
        if (!peers.Keys.ToHashSet(StringComparer.Ordinal).SetEquals(_gossip.Peers.Keys) || peers.Any(p => !_gossip.Peers.TryGetValue(p.Key, out var was) || !was.Equals(p.Value)))
            _gossip.UpdatePeers(peers);
    }

    /// <summary>The log exists and does not name this node: it joins (a cluster bootstrapped without it), or it was removed and stops.</summary>
    private async Task NotAMemberAsync(HA.Core.State.ClusterState state, bool wasMember, CancellationToken cancellationToken)
    {
        if (_ended.Task.IsCompleted) return;
        try
        {
            if (!wasMember)
            {
                var joined = await ClusterMembership.JoinAsync(_witness, _config, state, _configFile, cancellationToken);
                _logger.LogInformation("pgha run: {Node} joined cluster {Cluster} at version {Version} as a replica", _config.Node.Name, _config.Cluster, joined.Version);
                return;
            }
            var removal = await ClusterMembership.LastRemovalAsync(_witness, _config.Cluster, _config.Node.Name, cancellationToken);
            var how = removal is null ? "it is no longer a member" : ClusterMembership.Describe(removal);
            _logger.LogWarning("pgha run: {Node} was removed from cluster {Cluster} ({How}): stopping its PostgreSQL and exiting", _config.Node.Name, _config.Cluster, how);
            await _instance.StopAsync(HA.Agent.Postgres.StopMode.Fast, cancellationToken);
            _ended.TrySetResult($"{_config.Node.Name} was removed from cluster {_config.Cluster} ({how}): its PostgreSQL is stopped and this agent exits");
        }
        catch (OperatorError e)
        {
            _ended.TrySetException(e);
        }
    }

    /// <summary>Tells systemd (when NOTIFY_SOCKET names it); a socket that cannot be reached is logged, never fatal.</summary>
    private void Notify(SystemdNotifier systemd, params ServiceState[] states)
    {
        if (!systemd.IsEnabled) return;
        try
        {
            foreach (var state in states) systemd.Notify(state);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            _logger.LogWarning("pgha run: cannot notify systemd through NOTIFY_SOCKET: {Error}", e.Message);
        }
    }

    private async Task<HA.Core.State.ClusterState?> ReadStateAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _witness.StateAsync(_config.Cluster, cancellationToken);
        }
        catch (UnknownClusterError)
        {
            return null;
        }
    }

    /// <summary>Runs until stopped, or until this node is removed from the cluster (returns why) or may not join (throws).</summary>
    public async Task<string?> RunAsync(bool keepPostgres, CancellationToken stopping)
    {
        var config = _config;
        _logger.LogInformation("pgha run: node {Node} of cluster {Cluster} ({Members} members), PostgreSQL {Host}:{Port}, lease {Backend} ttl {Ttl} s, primary_restart_timeout {Restart} s",
            config.Node.Name, config.Cluster, config.Members.Count, config.Node.Host, config.Node.Port, config.Lease.Backend, config.Lease.Ttl.TotalSeconds, config.Detection.PrimaryRestartTimeout.TotalSeconds);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var outbox = new DirectiveOutbox(_host.Services.GetRequiredService<IWolverineRuntime>());
        var log = new WitnessClusterLog(_witness, config.Cluster, outbox);
        var members = config.Members.Select(m => new NodeSpec(m.Name, m.Host, m.Port, m.FailoverPriority, m.NoFailover, m.GossipPort)).ToList();
        var coordinatorSettings = new CoordinatorSettings
        {
            Detection = config.Detection,
            Failover = config.Failover,
            DirectiveTimeout = config.DirectiveTimeout,
            SwitchoverMaxLag = config.SwitchoverMaxLag,
            MaxReplicaLag = config.Proxy.MaxReplicaLag,
            Synchronous = config.Synchronous,
            HeartbeatFreshness = TimeSpan.FromTicks(Math.Max(config.HealthInterval.Ticks * 4, TimeSpan.FromSeconds(1).Ticks)),
        };
        var campaign = new CoordinatorCampaign(_leases, config.Cluster, config.Node.Name, config.Lease.Timings, TimeProvider.System, _logs.CreateLogger("campaign"));
        Task? office = null;
        var agentLoop = _agent.RunAsync(stop.Token);
        var campaignLoop = campaign.RunAsync((grant, term) =>
        {
            var loop = new CoordinatorLoop(config.Cluster, config.Node.Name, members, log, _leases, Heartbeats, coordinatorSettings, TimeProvider.System, _logs.CreateLogger("coordinator"), WaitForChangeAsync);
            office = Task.Run(() => loop.RunAsync(grant, term), CancellationToken.None);
            return Task.CompletedTask;
        }, given =>
        {
            _logger.LogWarning("{Node} is no longer coordinator: {Reason}", config.Node.Name, given.Reason);
            return Task.CompletedTask;
        }, stop.Token);

        // Under systemd (Type=notify): ready only now that the agent has done a round and its API, gossip
        // and directive queue serve; systemd then starts what is ordered after pgha.
        var systemd = new SystemdNotifier();
        Notify(systemd, new ServiceState($"STATUS=node {config.Node.Name} of cluster {config.Cluster}: agent running"), ServiceState.Ready);

        try
        {
            await Task.WhenAny(agentLoop, campaignLoop, _ended.Task, Task.Delay(Timeout.Infinite, stopping)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        _logger.LogInformation("pgha run: stopping node {Node}", config.Node.Name);
        Notify(systemd, ServiceState.Stopping);
        await stop.CancelAsync();
        await Quietly(agentLoop);
        await Quietly(campaignLoop);
        if (office is not null) await Quietly(office);
        await _agent.DisposeAsync(); // releases the primary lease
        if (_changes is not null) await _changes.DisposeAsync();
        // A primary is always stopped: its lease is gone, so another node may be promoted.
        var primary = !File.Exists(Path.Combine(_instance.Settings.DataDirectory, "standby.signal"));
        // A removed node's PostgreSQL is stopped whatever --keep-postgres says: it is no longer a member.
        if (!keepPostgres || primary || _ended.Task.IsCompleted)
        {
            await _instance.StopAsync(HA.Agent.Postgres.StopMode.Fast, CancellationToken.None);
            _logger.LogInformation("pgha run: PostgreSQL of {Node} stopped", config.Node.Name);
        }
        _watchdog.Disarm();
        return _ended.Task.IsCompleted ? await _ended.Task : null;
    }

    private WitnessChangeListener? _changes;

    /// <summary>Waits until the witness store reports an append (LISTEN), or <paramref name="atMost"/>.</summary>
    private async Task WaitForChangeAsync(TimeSpan atMost, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(atMost);
        try
        {
            _changes ??= await WitnessChangeListener.StartAsync(_config.Witness, deadline.Token);
            if (!await _changes.Changes.WaitToReadAsync(deadline.Token)) await DropListenerAsync(); // it stopped: open another next time
            else while (_changes.Changes.TryRead(out _)) { }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The tick elapsed without a change.
        }
        catch (Npgsql.NpgsqlException)
        {
            await DropListenerAsync();
            await Task.Delay(atMost, cancellationToken);
        }
    }

    private async Task DropListenerAsync()
    {
        if (_changes is { } broken) await broken.DisposeAsync();
        _changes = null;
    }

    private IReadOnlyDictionary<string, ReceivedHeartbeat> Heartbeats()
    {
        // The API starts before gossip: until then only this node's own heartbeat is known.
        IReadOnlyDictionary<string, ReceivedHeartbeat> heard = _gossip is { } gossip ? gossip.Latest : new Dictionary<string, ReceivedHeartbeat>();
        var all = new Dictionary<string, ReceivedHeartbeat>(heard, StringComparer.Ordinal)
        {
            [_config.Node.Name] = new ReceivedHeartbeat(_agent.CurrentHeartbeat(), DateTimeOffset.UtcNow, TimeProvider.System.GetTimestamp()),
        };
        return all;
    }

    private static async Task Quietly(Task task)
    {
        try { await task.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    private static IPAddress Address(string host, string key)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        try
        {
            return Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? Dns.GetHostAddresses(host)[0];
        }
        catch (SocketException e)
        {
            throw new OperatorError($"{key}: cannot resolve '{host}': {e.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _close.Count - 1; i >= 0; i--)
        {
            try { await _close[i](); }
            catch (Exception e) { _logger?.LogWarning("closing: {Error}", e.GetBaseException().Message); }
        }
    }
}
