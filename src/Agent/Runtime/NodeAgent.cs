using HA.Agent.Directives;
using HA.Agent.Gossip;
using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Events;
using HA.Core.Leases;
using HA.Core.Replication;
using HA.Core.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Runtime;

/// <summary>What one node's agent needs to know.</summary>
public sealed record NodeAgentOptions
{
    public required string Cluster { get; init; }
    public required NodeAgentContext Context { get; init; }

    /// <summary>health.interval: how often PostgreSQL and the peers are probed.</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>failover.primary_restart_timeout: how long a crashed primary is restarted in place (zero: never).</summary>
    public TimeSpan PrimaryRestartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The primary lease's TTL and fence margin.</summary>
    public required LeaseTimings PrimaryLease { get; init; }

    /// <summary>lease.failsafe: stay primary without the lease store while every member confirms it.</summary>
    public bool Failsafe { get; init; }

    /// <summary>Where the agent keeps what must survive its restart (the directive gate).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The members as the log names them, updated from every state read (usually also <see cref="NodeAgentContext.Peers"/>).</summary>
    public ClusterMembers? Members { get; init; }

    public string Node => Context.Instance.Settings.Name;
}

/// <summary>
/// The agent of one node (DESIGN §2): probes its PostgreSQL every health.interval and what it can
/// reach of its peers, holds the primary lease while its node is the healthy primary and fences it
/// when the lease cannot be kept, restarts a crashed server in place (a primary only within
/// primary_restart_timeout), stops a server that writes while the log names another primary, runs the
/// coordinator's directives one at a time, and publishes all it knows as its gossip heartbeat.
/// </summary>
public sealed class NodeAgent : IDirectiveHooks, IAsyncDisposable
{
    private static readonly TimeSpan ReplicaRestartEvery = TimeSpan.FromSeconds(3);

    private readonly NodeAgentOptions _options;
    private readonly ILeaseStore _leases;
    private readonly Func<CancellationToken, Task<ClusterState?>> _readState;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _nodeLock = new(1, 1);
    private readonly object _gate = new();

    private NodeState? _probe;
    private DateTimeOffset? _downSince;
    private string? _detail;
    private Dictionary<string, PeerObservation> _peers = new(StringComparer.Ordinal);
    private ClusterState? _state;
    private DateTimeOffset _lastStartAttempt = DateTimeOffset.MinValue;
    private long _promotedInTerm;
    private long _fencedInTerm;
    private bool _selfFenced;
    private PrimaryLeaseHold? _hold;
    private bool _wasMember;
    private volatile bool _looping;
    private long _directivesRun;
    private string? _slotsKeptFor;

    public NodeAgent(NodeAgentOptions options, ILeaseStore leases, Func<CancellationToken, Task<ClusterState?>> readState, TimeProvider time, ILogger? logger = null)
    {
        _options = options;
        _leases = leases;
        _readState = readState;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        Directory.CreateDirectory(options.StateDirectory);
        Directives = new DirectiveRunner(options.Context, time, Path.Combine(options.StateDirectory, "directives.json"), this);
    }

    public DirectiveRunner Directives { get; }

    /// <summary>When the loop last finished a round (probe, read the log, act): what /liveness reports.</summary>
    public DateTimeOffset? LastRoundAt { get; private set; }

    /// <summary>
    /// The watchdog told of every primary lease renewal: it fences PostgreSQL half a fence margin after
    /// the renewal deadline this agent's own keeper acts on — a backstop for an agent too stalled to act,
    /// still before the lease could expire.
    /// </summary>
    public LeaseWatchdog? Watchdog { get; set; }

    /// <summary>
    /// Called (under the node lock) when the log exists and does not name this node: with false while it
    /// has never been a member in this run (it has to join), with true once it was (it was removed).
    /// </summary>
    public Func<ClusterState, bool, CancellationToken, Task>? NotAMember { get; set; }

    /// <summary>The other agents' heartbeats, for the failsafe (set once gossip runs).</summary>
    public Func<IReadOnlyDictionary<string, ReceivedHeartbeat>>? PeerHeartbeats { get; set; }

    /// <summary>The cluster state this agent last read from the witness store (null before the first read or bootstrap).</summary>
    public ClusterState? LastState
    {
        get { lock (_gate) return _state; }
    }

    /// <summary>Whether this agent holds the primary lease now.</summary>
    public bool HoldsPrimaryLease
    {
        get { lock (_gate) return _hold is not null; }
    }

    private string Node => _options.Node;
    private PostgresInstance Instance => _options.Context.Instance;

    /// <summary>How to reach this node's PostgreSQL (its Unix socket): for the API's checks that read it directly.</summary>
    public NodeSettings PostgresSettings => Instance.Settings;

    /// <summary>This agent's heartbeat as gossip sends it (gossip stamps cluster, incarnation and sequence).</summary>
    public Heartbeat CurrentHeartbeat()
    {
        lock (_gate)
        {
            return new Heartbeat
            {
                Cluster = _options.Cluster,
                Node = Node,
                Incarnation = 0,
                Sequence = 0,
                SentAt = _time.GetUtcNow(),
                PostgresRunning = _probe is not null,
                PostgresDownSince = _probe is null ? _downSince : null,
                InRecovery = _probe?.InRecovery ?? false,
                Timeline = _probe?.Timeline,
                CurrentLsn = _probe?.CurrentLsn?.ToString(),
                ReceivedLsn = _probe?.ReceivedLsn?.ToString(),
                ReplayedLsn = _probe?.ReplayedLsn?.ToString(),
                LagBytes = null,
                Upstream = UpstreamName(_probe),
                Detail = _detail,
                StateVersion = _state?.Version ?? 0,
                Peers = [.. _peers.Values],
            };
        }
    }

    /// <summary>The member this standby streams from, by name when its address is a member's (as this node's configuration knows them), else host:port.</summary>
    private string? UpstreamName(NodeState? probe)
    {
        if (probe?.UpstreamHost is not { } host) return null;
        var member = _options.Context.Peers.FirstOrDefault(p => p.Value.Host == host && p.Value.Port == probe.UpstreamPort).Key;
        return member ?? $"{host}:{probe.UpstreamPort}";
    }

    /// <summary>Runs a directive under the node lock (never at the same time as a restart or a self-fence).</summary>
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

    async Task IDirectiveHooks.BeforeAsync(DirectiveEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.Directive.Kind != DirectiveKind.Promote) return;
        // The primary is always the primary lease's holder: take it before accepting writes.
        var deadline = _time.GetUtcNow() + _options.PrimaryLease.Ttl + _options.PrimaryLease.Ttl;
        while (!await TryHoldPrimaryLeaseAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_time.GetUtcNow() > deadline)
                throw new InvalidOperationException($"could not take the primary lease of {_options.Cluster} (held by {(await _leases.ReadAsync(LeaseKeys.Primary(_options.Cluster), cancellationToken).ConfigureAwait(false))?.Holder ?? "nobody"})");
            await Task.Delay(TimeSpan.FromMilliseconds(200), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    async Task<string> IDirectiveHooks.AfterAsync(DirectiveEnvelope envelope, string detail, CancellationToken cancellationToken)
    {
        var d = envelope.Directive;
        switch (d.Kind)
        {
            case DirectiveKind.Promote:
                lock (_gate) _promotedInTerm = Math.Max(_promotedInTerm, d.Term);
                break;
            case DirectiveKind.Fence or DirectiveKind.Demote:
                lock (_gate) _fencedInTerm = Math.Max(_fencedInTerm, d.Term);
                if (await ReleasePrimaryLeaseAsync().ConfigureAwait(false)) detail += "; primary lease released";
                break;
        }
        return detail;
    }

    /// <summary>The agent's loop: probe, read the log, act; until cancelled. The lease is released and PostgreSQL left as it is.</summary>
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

    /// <summary>One round: probe, read the cluster state, act on what they say.</summary>
    public async Task TickAsync(CancellationToken cancellationToken)
    {
        var directivesBefore = Interlocked.Read(ref _directivesRun);
        var peers = ProbePeersAsync(cancellationToken);
        var probe = await ProbeSelfAsync(cancellationToken).ConfigureAwait(false);
        var state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        await peers.ConfigureAwait(false);
        if (!await _nodeLock.WaitAsync(0, cancellationToken).ConfigureAwait(false)) return; // a directive is running
        try
        {
            // A directive ran since the probe (a PROMOTE, a FENCE): what the probe saw is stale; act next round.
            // Seen under load: a node just promoted released its primary lease on a probe taken while it was a standby.
            if (Interlocked.Read(ref _directivesRun) != directivesBefore) return;
            await ActAsync(state, probe, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _nodeLock.Release();
        }
    }

    private async Task<NodeState?> ProbeSelfAsync(CancellationToken cancellationToken)
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
            deadline.CancelAfter(TimeSpan.FromSeconds(Math.Max(2, _options.HealthInterval.TotalSeconds * 4)));
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
            if (probe is null) _downSince ??= _time.GetUtcNow();
            else _downSince = null;
            if (detail is not null || probe is not null) _detail = detail;
        }
        return probe;
    }

    private async Task ProbePeersAsync(CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMilliseconds(Math.Clamp(_options.HealthInterval.TotalMilliseconds * 2, 200, 2000));
        var probes = _options.Context.Peers
            .Where(p => p.Key != Node)
            .Select(async p => (Peer: p.Key, Result: await PeerProbe.ProbeAsync(p.Value.Host, p.Value.Port, timeout, cancellationToken).ConfigureAwait(false)))
            .ToList();
        var results = await Task.WhenAll(probes).ConfigureAwait(false);
        var now = _time.GetUtcNow();
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

    private async Task<ClusterState?> ReadStateAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            var state = await _readState(deadline.Token).ConfigureAwait(false);
            lock (_gate) _state = state;
            return state;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The witness store is unreachable: keep acting on what the log said last (DESIGN §3.5).
            _logger.LogDebug("Agent {Node} cannot read the cluster state: {Error}", Node, e.GetBaseException().Message);
            lock (_gate) return _state;
        }
    }

    private async Task ActAsync(ClusterState? state, NodeState? probe, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (state is not null && _options.Members is { } members && members.Update(state))
        {
            // A member joined from another host: this server may be its upstream or rewind source.
            if (await Instance.AllowNetworksAsync(members.HbaNetworks(), cancellationToken).ConfigureAwait(false))
                _logger.LogInformation("Agent {Node}: pg_hba.conf lets in {Networks}", Node, string.Join(", ", Instance.HbaNetworks));
        }
        if (state is not null && !state.Nodes.ContainsKey(Node) && NotAMember is { } notAMember)
        {
            await notAMember(state, _wasMember, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (state is null || !state.Nodes.TryGetValue(Node, out var me))
        {
            // Not bootstrapped yet (or not a member): bring up what this node has, the coordinator records it.
            if (probe is null && Instance.DataDirectoryExists && now - _lastStartAttempt > ReplicaRestartEvery && state is null)
                await StartAsync("starting PostgreSQL before the cluster is bootstrapped", cancellationToken).ConfigureAwait(false);
            if (probe is { InRecovery: false } && state is null) await TryHoldPrimaryLeaseAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        _wasMember = true;
        long promotedInTerm, fencedInTerm;
        DateTimeOffset? downSince;
        lock (_gate) (promotedInTerm, fencedInTerm, downSince) = (_promotedInTerm, _fencedInTerm, _downSince);
        var primaryByLog = state.Primary == Node;

        if (probe is { InRecovery: false })
        {
            if (!primaryByLog && promotedInTerm <= state.PrimaryTerm)
            {
                // The log names another primary: this server must not take writes (a primary that came back).
                _logger.LogWarning("Agent {Node}: PostgreSQL accepts writes but {Primary} is the primary of term {Term}; fencing it", Node, state.Primary, state.PrimaryTerm);
                var how = await PostgresFence.FenceAsync(Instance, cancellationToken).ConfigureAwait(false);
                lock (_gate) { _fencedInTerm = Math.Max(_fencedInTerm, state.Term); _detail = $"fenced: {state.Primary} is the primary of term {state.PrimaryTerm} ({how})"; }
                await ReleasePrimaryLeaseAsync().ConfigureAwait(false);
                return;
            }
            if (!HoldsPrimaryLease && !await TryHoldPrimaryLeaseAsync(cancellationToken).ConfigureAwait(false))
            {
                var holder = await _leases.ReadAsync(LeaseKeys.Primary(_options.Cluster), cancellationToken).ConfigureAwait(false);
                if (holder is not null && holder.Holder != Node)
                {
                    _logger.LogWarning("Agent {Node}: the primary lease is held by {Holder}; fencing this server", Node, holder.Holder);
                    var how = await PostgresFence.FenceAsync(Instance, cancellationToken).ConfigureAwait(false);
                    lock (_gate) { _fencedInTerm = Math.Max(_fencedInTerm, state.Term); _detail = $"fenced: the primary lease is held by {holder.Holder} ({how})"; }
                }
                return;
            }
            if (primaryByLog) await KeepSlotsAsync(state, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (probe is not null)
        {
            // A running standby holds no primary lease (after a demote, for instance).
            if (HoldsPrimaryLease && !primaryByLog) await ReleasePrimaryLeaseAsync().ConfigureAwait(false);
            return;
        }

        // PostgreSQL is down.
        if (me.Detached)
        {
            lock (_gate) _detail = $"detached for maintenance ({me.DetachedReason}): PostgreSQL left as it is";
            return;
        }
        if (me.Role == NodeRole.FormerPrimary)
        {
            lock (_gate) _detail = $"former primary: waiting to be rejoined to {state.Primary} (rewind)";
            await ReleasePrimaryLeaseAsync().ConfigureAwait(false);
            return;
        }
        if (!primaryByLog && NeedsBaseBackup)
        {
            // Not in the round before gossip starts: the peers hear this node (taking a base backup) meanwhile.
            if (_looping && now - _lastStartAttempt > ReplicaRestartEvery) await CloneFromPrimaryAsync(state, cancellationToken).ConfigureAwait(false);
            else lock (_gate) _detail = $"no data directory yet: a base backup from {state.Primary ?? "the primary"} follows";
            return;
        }
        if (!primaryByLog)
        {
            if (Instance.DataDirectoryExists && now - _lastStartAttempt > ReplicaRestartEvery)
                await StartAsync("restarting the standby in place", cancellationToken).ConfigureAwait(false);
            return;
        }

        // Restart in place only while nobody is taking over: not fenced by the coordinator, no failover
        // running, and holding the lease — within primary_restart_timeout of the crash, after a
        // self-fence once the lease store answers again, or when no other node could take over.
        var fencedByCoordinator = me.Fenced || fencedInTerm >= state.PrimaryTerm;
        var within = downSince is { } since && now - since < _options.PrimaryRestartTimeout;
        bool selfFenced;
        lock (_gate) selfFenced = _selfFenced;
        if (!fencedByCoordinator && state.Failover is null && (within || selfFenced || state.Nodes.Count == 1)
            && await TryHoldPrimaryLeaseAsync(cancellationToken).ConfigureAwait(false))
        {
            if (now - _lastStartAttempt > TimeSpan.FromSeconds(1)
                && await StartAsync(selfFenced ? "restarting the primary: its lease is held again" : $"restarting the primary in place (primary_restart_timeout {_options.PrimaryRestartTimeout.TotalSeconds:0.#} s)", cancellationToken).ConfigureAwait(false))
            {
                await PostgresFence.ClearAsync(Instance, cancellationToken).ConfigureAwait(false);
                lock (_gate) _selfFenced = false;
            }
            return;
        }
        if (await ReleasePrimaryLeaseAsync().ConfigureAwait(false))
        {
            _logger.LogWarning("Agent {Node}: primary PostgreSQL down and not restarted ({Why}); primary lease released for a failover", Node,
                within ? "fenced or failing over" : $"primary_restart_timeout {_options.PrimaryRestartTimeout.TotalSeconds:0.#} s passed");
        }
        lock (_gate) _detail = "primary PostgreSQL is down; waiting for the coordinator";
    }

    /// <summary>Marks a base backup under way: one interrupted (the agent killed) is started again from scratch.</summary>
    private string CloneMarker => Path.Combine(_options.StateDirectory, "base-backup-in-progress");

    /// <summary>
    /// A replica without a data directory (a new member, or a node whose disk was replaced), or with the
    /// remains of a base backup that was interrupted. A directory holding something else is never touched
    /// (<c>pgha run</c> refuses to start on one).
    /// </summary>
    private bool NeedsBaseBackup =>
        File.Exists(CloneMarker)
        || (!Instance.DataDirectoryExists && (!Directory.Exists(Instance.Settings.DataDirectory) || !Directory.EnumerateFileSystemEntries(Instance.Settings.DataDirectory).Any()));

    /// <summary>Takes a base backup from the primary the log names (pg_basebackup through this node's own slot), then starts as its standby.</summary>
    private async Task CloneFromPrimaryAsync(ClusterState state, CancellationToken cancellationToken)
    {
        _lastStartAttempt = _time.GetUtcNow();
        if (state.Primary is not { } primary || !_options.Context.Peers.TryGetValue(primary, out var source))
        {
            lock (_gate) _detail = "no data directory yet: waiting for a primary to take a base backup from";
            return;
        }
        lock (_gate) _detail = $"taking a base backup from {primary}";
        _logger.LogInformation("Agent {Node}: no data directory: taking a base backup from the primary {Primary} ({Host}:{Port}) through slot {Slot}",
            Node, primary, source.Host, source.Port, Instance.Settings.SlotName);
        await File.WriteAllTextAsync(CloneMarker, $"{primary}\n", cancellationToken).ConfigureAwait(false);
        try
        {
            await Instance.ReinitializeAsync(source, _options.Context.Credentials, cancellationToken).ConfigureAwait(false);
            File.Delete(CloneMarker);
            lock (_gate) _detail = null;
            _logger.LogInformation("Agent {Node}: base backup from {Primary} done; streaming from it", Node, primary);
        }
        catch (PostgresCommandFailed e)
        {
            lock (_gate) _detail = e.Message;
            _logger.LogWarning("Agent {Node}: base backup from {Primary} failed: {Error}", Node, primary, e.Message);
        }
    }

    /// <summary>
    /// The primary keeps a replication slot for every other member (a member that joined included) and
    /// drops the pgha slots of nodes that left. Done again when the members change, or while a slot of a
    /// removed node is still in use.
    /// </summary>
    private async Task KeepSlotsAsync(ClusterState state, CancellationToken cancellationToken)
    {
        var others = state.Nodes.Keys.Where(n => n != Node).ToList();
        var key = $"{state.PrimaryTerm}:{string.Join(",", others)}";
        if (key == _slotsKeptFor) return;
        try
        {
            await NodeSql.EnsureSlotsAsync(Instance.Settings, others, cancellationToken).ConfigureAwait(false);
            var (dropped, inUse) = await NodeSql.DropSlotsOfNonMembersAsync(Instance.Settings, state.Nodes.Keys, cancellationToken).ConfigureAwait(false);
            foreach (var slot in dropped) _logger.LogInformation("Agent {Node}: dropped replication slot {Slot}: its node is no longer a member", Node, slot);
            // A removed node's standby may still stream for a moment: keep trying until its slot is free.
            _slotsKeptFor = inUse.Count == 0 ? key : null;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("Agent {Node}: cannot keep the replication slots: {Error}", Node, e.GetBaseException().Message);
        }
    }

    private async Task<bool> StartAsync(string why, CancellationToken cancellationToken)
    {
        _lastStartAttempt = _time.GetUtcNow();
        _logger.LogInformation("Agent {Node}: {Why}", Node, why);
        try
        {
            await Instance.StartAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PostgresCommandFailed e)
        {
            lock (_gate) _detail = e.Message;
            _logger.LogWarning("Agent {Node}: start failed: {Error}", Node, e.Message);
            return false;
        }
    }

    /// <summary>Takes the primary lease if it is free, and keeps it until released or lost (then this server is fenced).</summary>
    private async Task<bool> TryHoldPrimaryLeaseAsync(CancellationToken cancellationToken)
    {
        lock (_gate) if (_hold is not null) return true;
        LeaseGrant? grant;
        try
        {
            grant = await _leases.TryAcquireAsync(LeaseKeys.Primary(_options.Cluster), Node, _options.PrimaryLease.Ttl, cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseStoreUnavailableException e)
        {
            _logger.LogWarning("Agent {Node}: cannot take the primary lease: {Error}", Node, e.Message);
            return false;
        }
        if (grant is null) return false;
        var hold = new PrimaryLeaseHold(grant);
        lock (_gate) _hold = hold;
        Watchdog?.Keep(_options.PrimaryLease.Deadline + _options.PrimaryLease.FenceMargin / 2);
        _logger.LogInformation("Agent {Node} holds the primary lease (token {Token})", Node, grant.Token);
        var keeper = new LeaseKeeper(_leases, _options.PrimaryLease, _time, _logger, _options.Failsafe ? FailsafeConfirms : null,
            renewed: left => Watchdog?.Keep(left + _options.PrimaryLease.FenceMargin / 2));
        hold.Keeping = Task.Run(async () =>
        {
            var lost = await keeper.HoldAsync(grant, given => SelfFenceAsync(given), hold.Stop.Token).ConfigureAwait(false);
            lock (_gate) if (_hold == hold) _hold = null;
            if (lost is not null) Watchdog?.Off();
            return lost;
        }, CancellationToken.None);
        return true;
    }

    private async Task SelfFenceAsync(LeaseGivenUp given)
    {
        _logger.LogError("Agent {Node}: primary lease lost ({Reason}); fencing PostgreSQL with {Margin} ms to spare", Node, given.Reason, (int)given.MarginLeft.TotalMilliseconds);
        await _nodeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var how = await PostgresFence.FenceAsync(Instance, CancellationToken.None).ConfigureAwait(false);
            lock (_gate) { _selfFenced = true; _detail = $"fenced itself: primary lease lost ({given.Reason}); {how}"; }
        }
        finally
        {
            _nodeLock.Release();
        }
    }

    /// <summary>Failsafe (DESIGN §3.5): every other member's fresh heartbeat says it still reaches this node's PostgreSQL.</summary>
    private bool FailsafeConfirms()
    {
        var heartbeats = PeerHeartbeats?.Invoke();
        var state = LastState;
        if (heartbeats is null || state is null) return false;
        var fresh = TimeSpan.FromTicks(_options.HealthInterval.Ticks * 4);
        return state.Nodes.Keys.Where(n => n != Node).All(peer =>
            heartbeats.TryGetValue(peer, out var received)
            && _time.GetUtcNow() - received.ReceivedAt <= fresh
            && received.Heartbeat.Peers.Any(o => o.Peer == Node && o.Reachable));
    }

    /// <summary>Gives the primary lease up at once (true when it was held).</summary>
    private async Task<bool> ReleasePrimaryLeaseAsync()
    {
        PrimaryLeaseHold? hold;
        lock (_gate) (hold, _hold) = (_hold, null);
        if (hold is null) return false;
        await hold.Stop.CancelAsync().ConfigureAwait(false);
        await hold.Keeping.ConfigureAwait(false);
        Watchdog?.Off();
        _logger.LogInformation("Agent {Node} released the primary lease (token {Token})", Node, hold.Grant.Token);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await ReleasePrimaryLeaseAsync().ConfigureAwait(false);
        _nodeLock.Dispose();
    }

    private sealed class PrimaryLeaseHold(LeaseGrant grant)
    {
        public LeaseGrant Grant { get; } = grant;
        public CancellationTokenSource Stop { get; } = new();
        public Task<LeaseGivenUp?> Keeping { get; set; } = Task.FromResult<LeaseGivenUp?>(null);
    }
}
