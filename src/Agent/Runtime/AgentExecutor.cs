using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Agent;
using HA.Core.State;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Runtime;

/// <summary>
/// Carries out what <see cref="AgentPolicy"/> decided, one method per action, and remembers what it did
/// that later decisions read: the last start attempt, the terms its server was promoted and fenced in,
/// a self-fence. Called under the agent's node lock (never at the same time as a directive).
/// </summary>
public sealed class AgentExecutor
{
    private readonly NodeAgentOptions _options;
    private readonly NodeObserver _observer;
    private readonly PrimaryLeaseHolder _lease;
    private readonly BaseBackupCloner _cloner;
    private readonly ReplicationSlotKeeper _slots;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private DateTimeOffset _lastStartAttempt = DateTimeOffset.MinValue;
    private long _promotedInTerm;
    private long _fencedInTerm;
    private bool _selfFenced;

    public AgentExecutor(NodeAgentOptions options, NodeObserver observer, PrimaryLeaseHolder lease, TimeProvider time, ILogger logger)
    {
        (_options, _observer, _lease, _time, _logger) = (options, observer, lease, time, logger);
        _cloner = new BaseBackupCloner(options.Context, options.StateDirectory, logger);
        _slots = new ReplicationSlotKeeper(options.Context.Instance.Settings, logger);
    }

    private string Node => _options.Node;
    private PostgresInstance Instance => _options.Context.Instance;

    /// <summary><paramref name="facts"/> with what this agent did before and what its data directory holds.</summary>
    public AgentFacts Recall(AgentFacts facts)
    {
        lock (_gate)
        {
            return facts with
            {
                DataDirectory = _cloner.DataDirectory,
                LastStartAttempt = _lastStartAttempt,
                PromotedInTerm = _promotedInTerm,
                FencedInTerm = _fencedInTerm,
                SelfFenced = _selfFenced,
            };
        }
    }

    /// <summary>A PROMOTE of <paramref name="term"/> succeeded.</summary>
    public void Promoted(long term)
    {
        lock (_gate) _promotedInTerm = Math.Max(_promotedInTerm, term);
    }

    /// <summary>The server was fenced (FENCE, DEMOTE, or by this agent) in <paramref name="term"/>.</summary>
    public void Fenced(long term)
    {
        lock (_gate) _fencedInTerm = Math.Max(_fencedInTerm, term);
    }

    /// <summary>A member joined from another host: this server may be its upstream or rewind source.</summary>
    public async Task FollowMembersAsync(ClusterState state, CancellationToken cancellationToken)
    {
        if (_options.Members is not { } members || !members.Update(state)) return;
        if (await Instance.AllowNetworksAsync(members.HbaNetworks(), cancellationToken).ConfigureAwait(false))
            _logger.LogInformation("Agent {Node}: pg_hba.conf lets in {Networks}", Node, string.Join(", ", Instance.HbaNetworks));
    }

    public Task ExecuteAsync(AgentAction action, CancellationToken cancellationToken) => action switch
    {
        AgentAction.StartBeforeBootstrap or AgentAction.StartStandby => StartAsync(action.Reason, cancellationToken),
        AgentAction.TakeLease => _lease.TryHoldAsync(cancellationToken),
        AgentAction.FenceBecauseLogNamesAnotherPrimary fence => FenceAsync(fence, cancellationToken),
        AgentAction.FenceBecauseLeaseHeldElsewhere fence => FenceAsync(fence, cancellationToken),
        AgentAction.KeepSlots keep => _slots.KeepAsync(keep.PrimaryTerm, keep.Members, cancellationToken),
        AgentAction.ReleaseLease => _lease.ReleaseAsync(),
        AgentAction.WaitForRejoin => PublishAndReleaseAsync(action.Reason),
        AgentAction.LeaveDetached or AgentAction.WaitForBaseBackup or AgentAction.WaitForAPrimary => Publish(action.Reason),
        AgentAction.CloneFromPrimary clone => CloneAsync(clone, cancellationToken),
        AgentAction.RestartPrimaryInPlace restart => RestartPrimaryAsync(restart, cancellationToken),
        AgentAction.WaitForFailover wait => WaitForFailoverAsync(wait),
        _ => Nothing(action),
    };

    private Task Nothing(AgentAction action)
    {
        _logger.LogDebug("Agent {Node}: {Why}", Node, action.Reason);
        return Task.CompletedTask;
    }

    private Task Publish(string detail)
    {
        _observer.Publish(detail);
        return Task.CompletedTask;
    }

    private async Task PublishAndReleaseAsync(string detail)
    {
        _observer.Publish(detail);
        await _lease.ReleaseAsync().ConfigureAwait(false);
    }

    /// <summary>The log names another primary: this server must not take writes (a primary that came back).</summary>
    private async Task FenceAsync(AgentAction.FenceBecauseLogNamesAnotherPrimary fence, CancellationToken cancellationToken)
    {
        _logger.LogWarning("Agent {Node}: PostgreSQL accepts writes but {Primary} is the primary of term {Term}; fencing it", Node, fence.Primary, fence.PrimaryTerm);
        var how = await PostgresFence.FenceAsync(Instance, cancellationToken).ConfigureAwait(false);
        Fenced(fence.Term);
        _observer.Publish($"fenced: {fence.Primary} is the primary of term {fence.PrimaryTerm} ({how})");
        await _lease.ReleaseAsync().ConfigureAwait(false);
    }

    private async Task FenceAsync(AgentAction.FenceBecauseLeaseHeldElsewhere fence, CancellationToken cancellationToken)
    {
        _logger.LogWarning("Agent {Node}: the primary lease is held by {Holder}; fencing this server", Node, fence.Holder);
        var how = await PostgresFence.FenceAsync(Instance, cancellationToken).ConfigureAwait(false);
        Fenced(fence.Term);
        _observer.Publish($"fenced: the primary lease is held by {fence.Holder} ({how})");
    }

    /// <summary>The keeper could not renew the primary lease in time: stop the server before the lease can expire anywhere else.</summary>
    public async Task SelfFenceAsync(LeaseGivenUp given)
    {
        var how = await PostgresFence.FenceAsync(Instance, CancellationToken.None).ConfigureAwait(false);
        lock (_gate) _selfFenced = true;
        _observer.Publish($"fenced itself: primary lease lost ({given.Reason}); {how}");
    }

    private async Task CloneAsync(AgentAction.CloneFromPrimary clone, CancellationToken cancellationToken)
    {
        lock (_gate) _lastStartAttempt = _time.GetUtcNow();
        await _cloner.CloneAsync(clone.Primary, _observer.Publish, cancellationToken).ConfigureAwait(false);
    }

    private async Task RestartPrimaryAsync(AgentAction.RestartPrimaryInPlace restart, CancellationToken cancellationToken)
    {
        // Never started without the lease: another node may be taking it over.
        if (restart.TakeLeaseFirst && !await _lease.TryHoldAsync(cancellationToken).ConfigureAwait(false))
        {
            _observer.Publish(AgentAction.WaitForFailover.Detail);
            return;
        }
        if (!await StartAsync(restart.Reason, cancellationToken).ConfigureAwait(false)) return;
        await PostgresFence.ClearAsync(Instance, cancellationToken).ConfigureAwait(false);
        lock (_gate) _selfFenced = false;
    }

    private async Task WaitForFailoverAsync(AgentAction.WaitForFailover wait)
    {
        if (await _lease.ReleaseAsync().ConfigureAwait(false))
            _logger.LogWarning("Agent {Node}: primary PostgreSQL down and not restarted ({Why}); primary lease released for a failover", Node, wait.Reason);
        _observer.Publish(AgentAction.WaitForFailover.Detail);
    }

    private async Task<bool> StartAsync(string why, CancellationToken cancellationToken)
    {
        lock (_gate) _lastStartAttempt = _time.GetUtcNow();
        _logger.LogInformation("Agent {Node}: {Why}", Node, why);
        try
        {
            await Instance.StartAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PostgresCommandFailed e)
        {
            _observer.Publish(e.Message);
            _logger.LogWarning("Agent {Node}: start failed: {Error}", Node, e.Message);
            return false;
        }
    }
}
