using HA.Agent.Gossip;
using HA.Agent.Postgres;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Runtime;

/// <summary>
/// What one agent sees: its own PostgreSQL, whether its peers' PostgreSQL answer, and the log (the last
/// read kept while the witness store is unreachable, DESIGN §3.5). Keeps the latest of each and the
/// detail line the agent publishes, and makes them its heartbeat.
/// </summary>
public sealed class NodeObserver(NodeAgentOptions options, Func<CancellationToken, Task<ClusterState?>> readState, TimeProvider time, ILogger logger)
{
    private readonly object _gate = new();
    private NodeState? _probe;
    private DateTimeOffset? _downSince;
    private string? _detail;
    private Dictionary<string, PeerObservation> _peers = new(StringComparer.Ordinal);
    private ClusterState? _state;

    private PostgresInstance Instance => options.Context.Instance;

    /// <summary>The cluster state last read (null before the first read or bootstrap).</summary>
    public ClusterState? LastState
    {
        get { lock (_gate) return _state; }
    }

    /// <summary>Since when the local PostgreSQL has not answered (null while it runs).</summary>
    public DateTimeOffset? DownSince
    {
        get { lock (_gate) return _downSince; }
    }

    /// <summary>Sets the detail line the heartbeat carries (what the agent did, or why it waits).</summary>
    public void Publish(string? detail)
    {
        lock (_gate) _detail = detail;
    }

    public async Task<NodeState?> ProbeSelfAsync(CancellationToken cancellationToken)
    {
        NodeState? probe = null;
        string? detail = null;
        if (Instance.ServerProcessId() is null)
        {
            detail = Instance.DataDirectoryExists ? "PostgreSQL is not running" : "no data directory yet";
        }
        else
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(Math.Max(2, options.HealthInterval.TotalSeconds * 4)));
            try
            {
                probe = await NodeProbe.ReadAsync(Instance.Settings, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                detail = $"PostgreSQL does not answer: {e.GetBaseException().Message}";
            }
        }
        lock (_gate)
        {
            _probe = probe;
            if (probe is null) _downSince ??= time.GetUtcNow();
            else _downSince = null;
            if (detail is not null || probe is not null) _detail = detail;
        }
        return probe;
    }

    public async Task ProbePeersAsync(CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMilliseconds(Math.Clamp(options.HealthInterval.TotalMilliseconds * 2, 200, 2000));
        var probes = options.Context.Peers
            .Where(p => p.Key != options.Node)
            .Select(async p => (Peer: p.Key, Result: await PeerProbe.ProbeAsync(p.Value.Host, p.Value.Port, timeout, cancellationToken).ConfigureAwait(false)))
            .ToList();
        var results = await Task.WhenAll(probes).ConfigureAwait(false);
        var now = time.GetUtcNow();
        lock (_gate)
        {
            var next = new Dictionary<string, PeerObservation>(StringComparer.Ordinal);
            foreach (var (peer, (reachable, detail)) in results)
            {
                var since = reachable ? null : _peers.TryGetValue(peer, out var before) && !before.Reachable ? before.UnreachableSince : now;
                next[peer] = new PeerObservation(peer, reachable, since, detail);
            }
            _peers = next;
        }
    }

    public async Task<ClusterState?> ReadStateAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            var state = await readState(deadline.Token).ConfigureAwait(false);
            lock (_gate) _state = state;
            return state;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The witness store is unreachable: keep acting on what the log said last (DESIGN §3.5).
            logger.LogDebug("Agent {Node} cannot read the cluster state: {Error}", options.Node, e.GetBaseException().Message);
            lock (_gate) return _state;
        }
    }

    /// <summary>This agent's heartbeat as gossip sends it (gossip stamps cluster, incarnation and sequence).</summary>
    public Heartbeat Heartbeat()
    {
        lock (_gate)
        {
            return new Heartbeat
            {
                Cluster = options.Cluster,
                Node = options.Node,
                Incarnation = 0,
                Sequence = 0,
                SentAt = time.GetUtcNow(),
                PostgresRunning = _probe is not null,
                PostgresDownSince = _probe is null ? _downSince : null,
                InRecovery = _probe?.InRecovery ?? false,
                Timeline = _probe?.Timeline,
                CurrentLsn = _probe?.CurrentLsn?.ToString(),
                ReceivedLsn = _probe?.ReceivedLsn?.ToString(),
                ReplayedLsn = _probe?.ReplayedLsn?.ToString(),
                LagBytes = null,
                Upstream = options.Context.UpstreamOf(_probe),
                Detail = _detail,
                StateVersion = _state?.Version ?? 0,
                Peers = [.. _peers.Values],
            };
        }
    }
}
