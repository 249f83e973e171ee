using HA.Agent.Directives;
using HA.Agent.Gossip;
using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Agent;
using HA.Core.Leases;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Runtime;

/// <summary>
/// The agent of one node (DESIGN §2). Every health.interval it observes (its PostgreSQL, what it can
/// reach of its peers, the log, the primary lease when needed), lets <see cref="AgentPolicy"/> decide
/// the one thing to do, and has <see cref="AgentExecutor"/> do it. It runs the coordinator's directives
/// one at a time, never during a round, and publishes all it knows as its gossip heartbeat.
/// </summary>
public sealed class NodeAgent : IAsyncDisposable
{
    private readonly NodeAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _nodeLock = new(1, 1);
    private readonly NodeObserver _observer;
    private readonly PrimaryLeaseHolder _lease;
    private readonly AgentExecutor _executor;
    private volatile bool _looping;
    private bool _wasMember;
    private long _directivesRun;

    public NodeAgent(NodeAgentOptions options, ILeaseStore leases, Func<CancellationToken, Task<ClusterState?>> readState, TimeProvider time, ILogger? logger = null)
    {
        _options = options;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        Directory.CreateDirectory(options.StateDirectory);
        _observer = new NodeObserver(options, readState, time, _logger);
        _lease = new PrimaryLeaseHolder(options, leases, time, _logger, SelfFenceAsync, options.Failsafe
            ? () => LeaseFailsafe.Confirms(options.Node, LastState, PeerHeartbeats?.Invoke(), time.GetUtcNow(), options.HealthInterval)
            : null);
        _executor = new AgentExecutor(options, _observer, _lease, time, _logger);
        Directives = new DirectiveRunner(options.Context, time, Path.Combine(options.StateDirectory, "directives.json"), new DirectiveLeaseHooks(_lease, _executor));
    }

    public DirectiveRunner Directives { get; }

    /// <summary>When the loop last finished a round (observe, decide, act): what /liveness reports.</summary>
    public DateTimeOffset? LastRoundAt { get; private set; }

    /// <summary>The primary's watchdog, told of every primary lease renewal (see <see cref="PrimaryLeaseHolder.Watchdog"/>).</summary>
    public LeaseWatchdog? Watchdog
    {
        get => _lease.Watchdog;
        set => _lease.Watchdog = value;
    }

    /// <summary>
    /// Called (under the node lock) when the log exists and does not name this node: with false while it
    /// has never been a member in this run (it has to join), with true once it was (it was removed).
    /// </summary>
    public Func<ClusterState, bool, CancellationToken, Task>? NotAMember { get; set; }

    /// <summary>The other agents' heartbeats, for the failsafe (set once gossip runs).</summary>
    public Func<IReadOnlyDictionary<string, ReceivedHeartbeat>>? PeerHeartbeats { get; set; }

    /// <summary>The cluster state this agent last read from the witness store (null before the first read or bootstrap).</summary>
    public ClusterState? LastState => _observer.LastState;

    /// <summary>Whether this agent holds the primary lease now.</summary>
    public bool HoldsPrimaryLease => _lease.Holds;

    /// <summary>How to reach this node's PostgreSQL (its Unix socket): for the API's checks that read it directly.</summary>
    public NodeSettings PostgresSettings => _options.Context.Instance.Settings;

    private string Node => _options.Node;

    /// <summary>This agent's heartbeat as gossip sends it (gossip stamps cluster, incarnation and sequence).</summary>
    public Heartbeat CurrentHeartbeat() => _observer.Heartbeat();

    /// <summary>Runs a directive under the node lock (never at the same time as a round's action or a self-fence).</summary>
    public async Task<DirectiveResult> RunDirectiveAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken)
    {
        await _nodeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Interlocked.Increment(ref _directivesRun);
            var result = await Directives.RunAsync(envelope, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("{Kind} {Id} (term {Term}): {Outcome} in {Ms} ms: {Detail}", envelope.Directive.Kind, envelope.Directive.DirectiveId,
                envelope.Directive.Term, result.Succeeded ? "succeeded" : "failed", (int)result.Duration.TotalMilliseconds, result.Detail);
            return result;
        }
        finally
        {
            _nodeLock.Release();
        }
    }

    /// <summary>The agent's loop: one round every health.interval until cancelled. The lease is released and PostgreSQL left as it is.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _looping = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = _time.GetTimestamp();
            try
            {
                await TickAsync(cancellationToken).ConfigureAwait(false);
                LastRoundAt = _time.GetUtcNow();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Agent {Node}: {Error}", Node, e.GetBaseException().Message);
            }
            var wait = _options.HealthInterval - _time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                try { await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    /// <summary>One round: observe, decide, act.</summary>
    public async Task TickAsync(CancellationToken cancellationToken)
    {
        var directivesBefore = Interlocked.Read(ref _directivesRun);
        var peers = _observer.ProbePeersAsync(cancellationToken);
        var probe = await _observer.ProbeSelfAsync(cancellationToken).ConfigureAwait(false);
        var state = await _observer.ReadStateAsync(cancellationToken).ConfigureAwait(false);
        await peers.ConfigureAwait(false);
        if (!await _nodeLock.WaitAsync(0, cancellationToken).ConfigureAwait(false)) return; // a directive is running
        try
        {
            // A directive ran since the probe (a PROMOTE, a FENCE): what the probe saw is stale; act next round.
            // Seen under load: a node just promoted released its primary lease on a probe taken while it was a standby.
            if (Interlocked.Read(ref _directivesRun) != directivesBefore) return;
            if (state is not null) await _executor.FollowMembersAsync(state, cancellationToken).ConfigureAwait(false);
            var facts = await ObserveAsync(state, probe, cancellationToken).ConfigureAwait(false);
            var action = AgentPolicy.Decide(facts);
            if (action is AgentAction.NotAMember notAMember)
            {
                if (NotAMember is { } hook) await hook(state!, notAMember.WasMember, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (facts.Log?.Me is not null) _wasMember = true;
            await _executor.ExecuteAsync(action, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _nodeLock.Release();
        }
    }

    /// <summary>The facts this round decides on: the probe, the log, the lease (read only when the policy needs it), and what the agent did before.</summary>
    private async Task<AgentFacts> ObserveAsync(ClusterState? state, NodeState? probe, CancellationToken cancellationToken)
    {
        var facts = _executor.Recall(new AgentFacts
        {
            Node = Node,
            Now = _time.GetUtcNow(),
            Server = probe is null ? new ServerSeen(false, false, _observer.DownSince) : new ServerSeen(true, probe.InRecovery, null),
            DataDirectory = DataDirectoryState.Ready,
            HoldsLease = _lease.Holds,
            Log = state is null ? null : LogSeen.Of(state, Node),
            WasMember = _wasMember,
            PrimaryRestartTimeout = _options.PrimaryRestartTimeout,
            Looping = _looping,
        });
        return AgentPolicy.ReadsLease(facts) ? facts with { Lease = await _lease.ReadAsync(cancellationToken).ConfigureAwait(false) } : facts;
    }

    private async Task SelfFenceAsync(LeaseGivenUp given)
    {
        _logger.LogError("Agent {Node}: primary lease lost ({Reason}); fencing PostgreSQL with {Margin} ms to spare", Node, given.Reason, (int)given.MarginLeft.TotalMilliseconds);
        await _nodeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _executor.SelfFenceAsync(given).ConfigureAwait(false);
        }
        finally
        {
            _nodeLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _lease.ReleaseAsync().ConfigureAwait(false);
        _nodeLock.Dispose();
    }
}
