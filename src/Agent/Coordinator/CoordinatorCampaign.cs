using HA.Agent.Lease;
using HA.Core.Leases;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Coordinator;

/// <summary>
/// Every agent campaigns for the cluster's coordinator lease (<c>&lt;cluster&gt;/leader</c>); the holder
/// runs the decision loop. On winning, <c>elected</c> is told the grant (its token fences every
/// decision the coordinator appends); when the lease cannot be kept, <c>deposed</c> is told before it
/// can expire, and the agent campaigns again.
/// </summary>
public sealed class CoordinatorCampaign(
    ILeaseStore store,
    string cluster,
    string node,
    LeaseTimings timings,
    TimeProvider time,
    ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public string Key => LeaseKeys.Leader(cluster);

    /// <param name="elected">called with the grant and a token cancelled when this term of office ends</param>
    /// <param name="deposed">called when the lease is lost, before it can expire</param>
    /// <param name="releaseOnStop">false leaves the lease to expire when stopped, as a crashed agent would</param>
    public async Task RunAsync(Func<LeaseGrant, CancellationToken, Task> elected, Func<LeaseGivenUp, Task> deposed, CancellationToken cancellationToken, bool releaseOnStop = true)
    {
        var keeper = new LeaseKeeper(store, timings, time, _logger);
        var pollEvery = TimeSpan.FromMilliseconds(Math.Min(250, timings.Ttl.TotalMilliseconds / 8));
        while (!cancellationToken.IsCancellationRequested)
        {
            LeaseGrant? grant = null;
            try
            {
                grant = await store.TryAcquireAsync(Key, node, timings.Ttl, cancellationToken).ConfigureAwait(false);
            }
            catch (LeaseStoreUnavailableException e)
            {
                _logger.LogWarning("Campaign of {Node} for {Key}: {Error}", node, Key, e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            if (grant is null)
            {
                try { await Task.Delay(pollEvery, time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }

            _logger.LogInformation("{Node} is coordinator of {Cluster} with token {Token}", node, cluster, grant.Token);
            using var office = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                await elected(grant, office.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The coordinator could not even record its election: let another agent try.
                _logger.LogError(e, "{Node} won {Key} but could not take office; releasing it", node, Key);
                await office.CancelAsync().ConfigureAwait(false);
                await ReleaseAsync(grant).ConfigureAwait(false);
                continue;
            }
            var report = await keeper.HoldAsync(grant, async given =>
            {
                await office.CancelAsync().ConfigureAwait(false);
                await deposed(given).ConfigureAwait(false);
            }, cancellationToken, releaseOnStop).ConfigureAwait(false);
            if (report is null) return;
        }
    }

    private async Task ReleaseAsync(LeaseGrant grant)
    {
        try { await store.ReleaseAsync(grant, CancellationToken.None).ConfigureAwait(false); }
        catch (LeaseStoreUnavailableException) { }
    }
}
