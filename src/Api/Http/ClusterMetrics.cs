using HA.Core.Events;
using HA.Core.History;
using HA.Core.Leases;
using HA.Core.State;
using HA.Projections;
using Prometheus;

namespace HA.Api.Http;

/// <summary>
/// The metrics of one node's API (docs/api.md, "Metrics"), in a registry of its own so several agents in
/// one process do not share series. Everything but the API's request durations is read when Prometheus
/// scrapes: the cluster's state as this node's agent last read it, the heartbeats it hears, the lease
/// store, the events appended since the last scrape (failovers, switchovers, coordinator changes,
/// directive outcomes) and the proxy's counters — nothing is counted on a hot path.
/// </summary>
public sealed class ClusterMetrics
{
    private static readonly string[] Roles = ["primary", "replica", "former_primary", "unknown"];
    private static readonly string[] Healths = ["healthy", "unhealthy", "unreachable", "unknown"];
    private static readonly double[] OperationBuckets = [0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300];
    private static readonly double[] DirectiveBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    /// <summary>How long a scrape waits for the lease store or the witness store.</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(3);

    private readonly ApiContext _context;
    private readonly SemaphoreSlim _reading = new(1, 1);
    private readonly Dictionary<string, DirectiveKind> _issued = new(StringComparer.Ordinal);
    private long? _afterVersion;

    private readonly Gauge _nodeRole, _nodeHealth, _nodeRunning, _nodeDetached, _nodeLagBytes, _nodeLagSeconds, _nodeTimeline;
    private readonly Gauge _clusterTerm, _clusterTimeline, _clusterPaused, _clusterVersion;
    private readonly Gauge _leaseHolder, _leaseToken, _leaseExpiry, _holdsPrimaryLease, _gossipAge, _up;
    private readonly Counter _coordinatorChanges, _failovers, _switchovers, _directivesExpired, _scrapeErrors;
    private readonly Histogram _failoverDuration, _switchoverDuration, _directiveDuration;
    private readonly Counter _proxyClients, _proxyConnects, _proxyErrors, _proxyBytes, _proxyCancels;
    private readonly Gauge _proxyOpen;

    public ClusterMetrics(ApiContext context)
    {
        _context = context;
        Registry = Metrics.NewCustomRegistry();
        Registry.SetStaticLabels(new Dictionary<string, string> { ["cluster"] = context.Config.Cluster });
        var f = Metrics.WithCustomRegistry(Registry);

        _up = f.CreateGauge("pgha_up", "1 while this node's agent answers (the label node names it).", "node");
        _nodeRole = f.CreateGauge("pgha_node_role", "1 for the role the cluster's log gives the node, 0 for the others.", "node", "role");
        _nodeHealth = f.CreateGauge("pgha_node_health", "1 for the health the cluster's log gives the node, 0 for the others.", "node", "health");
        _nodeRunning = f.CreateGauge("pgha_node_postgres_running", "1 when the node's latest heartbeat says its PostgreSQL runs.", "node");
        _nodeDetached = f.CreateGauge("pgha_node_detached", "1 when the node is detached for maintenance.", "node");
        _nodeLagBytes = f.CreateGauge("pgha_node_replication_lag_bytes", "Bytes a standby's replay is behind the primary's position (both from heartbeats).", "node");
        _nodeLagSeconds = f.CreateGauge("pgha_node_replication_lag_seconds", "How far this node's replay is behind in time (0 once it replayed all it received); reported by a standby for itself.", "node");
        _nodeTimeline = f.CreateGauge("pgha_node_timeline", "The node's PostgreSQL timeline (from its heartbeat, else the log).", "node");
        _clusterTerm = f.CreateGauge("pgha_cluster_term", "The cluster's highest term.");
        _clusterTimeline = f.CreateGauge("pgha_cluster_timeline", "The primary's timeline as the log records it.");
        _clusterPaused = f.CreateGauge("pgha_cluster_paused", "1 while automatic failover is paused.");
        _clusterVersion = f.CreateGauge("pgha_cluster_state_version", "The version of the cluster's event stream this node last read.");
        _leaseHolder = f.CreateGauge("pgha_lease_holder", "1 for the node holding each lease (primary, coordinator).", "lease", "node");
        _leaseToken = f.CreateGauge("pgha_lease_fencing_token", "The fencing token of each lease's current grant.", "lease");
        _leaseExpiry = f.CreateGauge("pgha_lease_expiry_seconds", "Seconds until each lease expires unless renewed (where the lease store says).", "lease");
        _holdsPrimaryLease = f.CreateGauge("pgha_primary_lease_held", "1 while this node's agent holds the primary lease.", "node");
        _gossipAge = f.CreateGauge("pgha_gossip_heartbeat_age_seconds", "Age of the latest heartbeat this node heard from each peer.", "node", "peer");
        _scrapeErrors = f.CreateCounter("pgha_scrape_errors_total", "Parts of a scrape that could not be read (leases, events), which keep their last values.", "part");
        _coordinatorChanges = f.CreateCounter("pgha_coordinator_changes_total", "Coordinators elected (CoordinatorElected events).");
        _failovers = f.CreateCounter("pgha_failovers_total", "Failovers ended, by outcome (completed, failed).", "outcome");
        _failoverDuration = f.CreateHistogram("pgha_failover_duration_seconds", "How long failovers took, from FailoverStarted to their end.", new HistogramConfiguration { LabelNames = ["outcome"], Buckets = OperationBuckets });
        _switchovers = f.CreateCounter("pgha_switchovers_total", "Switchovers ended, by outcome (completed, failed).", "outcome");
        _switchoverDuration = f.CreateHistogram("pgha_switchover_duration_seconds", "How long completed switchovers took.", new HistogramConfiguration { Buckets = OperationBuckets });
        _directiveDuration = f.CreateHistogram("pgha_directive_duration_seconds", "How long agents took to run directives, by kind and outcome (succeeded, failed).", new HistogramConfiguration { LabelNames = ["kind", "outcome"], Buckets = DirectiveBuckets });
        _directivesExpired = f.CreateCounter("pgha_directives_expired_total", "Directives that got no answer before they expired, by kind.", "kind");
        _proxyClients = f.CreateCounter("pgha_proxy_client_connections_total", "Client connections the proxy accepted.");
        _proxyConnects = f.CreateCounter("pgha_proxy_server_connects_total", "Connections the proxy opened to servers.");
        _proxyErrors = f.CreateCounter("pgha_proxy_errors_total", "Refused connections and broken sessions at the proxy.");
        _proxyBytes = f.CreateCounter("pgha_proxy_bytes_total", "Bytes relayed by the proxy, by direction (from_clients, to_clients).", "direction");
        _proxyCancels = f.CreateCounter("pgha_proxy_cancels_forwarded_total", "Cancel requests the proxy forwarded to a server.");
        _proxyOpen = f.CreateGauge("pgha_proxy_open_connections", "Open client sessions per backend node.", "backend");
        RequestDuration = f.CreateHistogram("pgha_api_request_duration_seconds", "Duration of the API's HTTP requests, by method, route and status code.",
            new HistogramConfiguration { LabelNames = ["method", "route", "status"], Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });

        Registry.AddBeforeCollectCallback(CollectAsync);
    }

    public CollectorRegistry Registry { get; }

    public Histogram RequestDuration { get; }

    private async Task CollectAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var node = _context.Node;
        _up.WithLabels(node).Set(1);
        _holdsPrimaryLease.WithLabels(node).Set(_context.Agent.HoldsPrimaryLease ? 1 : 0);
        var state = _context.Agent.LastState;
        var heartbeats = _context.Heartbeats();
        if (state is not null) CollectState(state, heartbeats);
        CollectGossip(heartbeats, now);
        CollectProxy();
        await ReadAsync("leases", token => CollectLeasesAsync(now, token), cancellationToken).ConfigureAwait(false);
        await ReadAsync("events", CollectEventsAsync, cancellationToken).ConfigureAwait(false);
        var beat = _context.Agent.CurrentHeartbeat();
        if (beat is { PostgresRunning: true, InRecovery: true } && await HealthEndpoints.ReplayDelayAsync(_context, cancellationToken).ConfigureAwait(false) is { } delay)
            _nodeLagSeconds.WithLabels(node).Set(delay.TotalSeconds);
        else
            _nodeLagSeconds.RemoveLabelled(node);
    }

    /// <summary>
    /// Reads one part from a store within a deadline: a scrape must neither fail nor hang because the lease
    /// store or the witness store does (DESIGN §3.5); the part keeps its last values and the miss is counted.
    /// </summary>
    private async Task ReadAsync(string part, Func<CancellationToken, Task> read, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ReadTimeout);
        try
        {
            await read(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            _scrapeErrors.WithLabels(part).Inc();
        }
    }

    private void CollectState(ClusterState state, IReadOnlyDictionary<string, HA.Agent.Gossip.ReceivedHeartbeat> heartbeats)
    {
        _clusterTerm.Set(state.Term);
        _clusterTimeline.Set(state.Timeline);
        _clusterPaused.Set(state.Paused ? 1 : 0);
        _clusterVersion.Set(state.Version);
        Forget(_nodeRole, state);
        Forget(_nodeHealth, state);
        Forget(_nodeRunning, state);
        Forget(_nodeDetached, state);
        Forget(_nodeLagBytes, state);
        Forget(_nodeTimeline, state);
        foreach (var (name, view) in state.Nodes)
        {
            var role = view.Role switch { NodeRole.Primary => "primary", NodeRole.Replica => "replica", NodeRole.FormerPrimary => "former_primary", _ => "unknown" };
            foreach (var r in Roles) _nodeRole.WithLabels(name, r).Set(r == role ? 1 : 0);
            var health = view.Health.ToString().ToLowerInvariant();
            foreach (var h in Healths) _nodeHealth.WithLabels(name, h).Set(h == health ? 1 : 0);
            _nodeDetached.WithLabels(name).Set(view.Detached ? 1 : 0);
            var beat = heartbeats.GetValueOrDefault(name)?.Heartbeat;
            if (beat is not null) _nodeRunning.WithLabels(name).Set(beat.PostgresRunning ? 1 : 0);
            if ((beat?.Timeline ?? view.Timeline) is { } timeline) _nodeTimeline.WithLabels(name).Set(timeline);
            if (beat is not null && HealthEndpoints.LagBytes(state, heartbeats, beat) is { } lag) _nodeLagBytes.WithLabels(name).Set(lag);
            else _nodeLagBytes.RemoveLabelled(name);
        }
    }

    /// <summary>Series of nodes that are no longer members are dropped.</summary>
    private static void Forget(Gauge gauge, ClusterState state)
    {
        foreach (var labels in gauge.GetAllLabelValues().ToList())
            if (!state.Nodes.ContainsKey(labels[0])) gauge.RemoveLabelled(labels);
    }

    private void CollectGossip(IReadOnlyDictionary<string, HA.Agent.Gossip.ReceivedHeartbeat> heartbeats, DateTimeOffset now)
    {
        foreach (var labels in _gossipAge.GetAllLabelValues().ToList())
            if (!heartbeats.ContainsKey(labels[1])) _gossipAge.RemoveLabelled(labels);
        foreach (var (peer, received) in heartbeats)
            if (peer != _context.Node) _gossipAge.WithLabels(_context.Node, peer).Set(Math.Max(0, (now - received.ReceivedAt).TotalSeconds));
    }

    private void CollectProxy()
    {
        if (_context.Proxy?.Server.Counters is not { } counters) return;
        _proxyClients.IncTo(counters.ClientsAccepted);
        _proxyConnects.IncTo(counters.ServerConnects);
        _proxyErrors.IncTo(counters.Errors);
        _proxyBytes.WithLabels("from_clients").IncTo(counters.BytesFromClients);
        _proxyBytes.WithLabels("to_clients").IncTo(counters.BytesToClients);
        _proxyCancels.IncTo(counters.CancelsForwarded);
        var open = counters.OpenConnections;
        foreach (var labels in _proxyOpen.GetAllLabelValues().ToList())
            if (!open.ContainsKey(labels[0])) _proxyOpen.WithLabels(labels).Set(0);
        foreach (var (backend, count) in open) _proxyOpen.WithLabels(backend).Set(count);
    }

    private async Task CollectLeasesAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (_context.Leases is not { } leases) return;
        foreach (var (lease, key) in new[] { ("primary", LeaseKeys.Primary(_context.Config.Cluster)), ("coordinator", LeaseKeys.Leader(_context.Config.Cluster)) })
        {
            var holder = await leases.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            foreach (var labels in _leaseHolder.GetAllLabelValues().ToList())
                if (labels[0] == lease && labels[1] != holder?.Holder) _leaseHolder.RemoveLabelled(labels);
            if (holder is null)
            {
                _leaseToken.RemoveLabelled(lease);
                _leaseExpiry.RemoveLabelled(lease);
                continue;
            }
            _leaseHolder.WithLabels(lease, holder.Holder).Set(1);
            _leaseToken.WithLabels(lease).Set(holder.Token);
            if (holder.ExpiresAt is { } expires) _leaseExpiry.WithLabels(lease).Set(Math.Max(0, (expires - now).TotalSeconds));
            else _leaseExpiry.RemoveLabelled(lease);
        }
    }

    /// <summary>Reads the events appended since the last scrape (the whole stream at the first) and counts what they record.</summary>
    private async Task CollectEventsAsync(CancellationToken cancellationToken)
    {
        if (!await _reading.WaitAsync(0, cancellationToken).ConfigureAwait(false)) return; // another scrape is reading them
        try
        {
            while (true)
            {
                HistoryPage page;
                try
                {
                    page = await _context.Witness.EventsAsync(_context.Config.Cluster, new HistoryFilter { AfterVersion = _afterVersion, Limit = WitnessStore.MaxPageSize }, cancellationToken).ConfigureAwait(false);
                }
                catch (UnknownClusterError)
                {
                    return; // not bootstrapped yet
                }
                foreach (var recorded in page.Events) Count(recorded);
                if (page.Events.Count > 0) _afterVersion = page.Events[^1].Version;
                if (page.NextAfterVersion is null) return;
            }
        }
        finally
        {
            _reading.Release();
        }
    }

    private void Count(RecordedEvent recorded)
    {
        switch (recorded.Event)
        {
            case CoordinatorElected:
                _coordinatorChanges.Inc();
                break;
            case FailoverCompleted c:
                _failovers.WithLabels("completed").Inc();
                _failoverDuration.WithLabels("completed").Observe(c.Duration.TotalSeconds);
                break;
            case FailoverFailed f:
                _failovers.WithLabels("failed").Inc();
                _failoverDuration.WithLabels("failed").Observe(f.Duration.TotalSeconds);
                break;
            case SwitchoverCompleted s:
                _switchovers.WithLabels("completed").Inc();
                _switchoverDuration.Observe(s.Duration.TotalSeconds);
                break;
            case SwitchoverFailed:
                _switchovers.WithLabels("failed").Inc();
                break;
            case DirectiveIssued issued:
                _issued[issued.DirectiveId] = issued.Kind;
                break;
            case DirectiveSucceeded succeeded:
                _directiveDuration.WithLabels(KindOf(succeeded.DirectiveId), "succeeded").Observe(succeeded.Duration.TotalSeconds);
                break;
            case DirectiveFailed failed:
                _directiveDuration.WithLabels(KindOf(failed.DirectiveId), "failed").Observe(failed.Duration.TotalSeconds);
                break;
            case DirectiveExpired expired:
                _issued.Remove(expired.DirectiveId);
                _directivesExpired.WithLabels(Name(expired.Kind)).Inc();
                break;
        }
    }

    private string KindOf(string directiveId) => _issued.Remove(directiveId, out var kind) ? Name(kind) : "unknown";

    private static string Name(DirectiveKind kind) => kind switch
    {
        DirectiveKind.ApplyConfig => "apply_config",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
