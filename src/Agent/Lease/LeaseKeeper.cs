using HA.Core.Leases;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Lease;

/// <summary>Timings of a held lease: renewed every <see cref="RenewEvery"/>; given up <see cref="FenceMargin"/> before it could expire.</summary>
public sealed record LeaseTimings(TimeSpan Ttl, TimeSpan FenceMargin)
{
    public TimeSpan RenewEvery => Ttl / 3;

    /// <summary>How long after the last successful renewal's start the holder must stop acting as holder.</summary>
    public TimeSpan Deadline => Ttl - FenceMargin;

    /// <summary>Problems with these timings, naming the settings; empty when valid.</summary>
    public IEnumerable<string> Problems(string prefix)
    {
        if (FenceMargin <= TimeSpan.Zero) yield return $"{prefix}.fence_margin must be positive";
        if (FenceMargin >= Ttl - RenewEvery) yield return $"{prefix}.fence_margin ({FenceMargin.TotalSeconds:0.###}s) must leave room for at least one renewal: below ttl*2/3 ({(Ttl - RenewEvery).TotalSeconds:0.###}s)";
    }
}

/// <summary>Why a holder stopped holding, and how much time was left before the lease could have expired.</summary>
public sealed record LeaseGivenUp(string Reason, TimeSpan MarginLeft, LeaseGrant Lease);

/// <summary>
/// Keeps a held lease alive: renews every TTL/3 and retries failed renewals, and when it cannot renew
/// by TTL - fence_margin (counted from the start of the last successful renewal, on this machine's
/// monotonic clock) or learns the lease is lost, calls <c>giveUp</c> before the lease can expire
/// anywhere else. A primary's giveUp fences PostgreSQL; a coordinator's steps down. The optional
/// failsafe lets a primary stay while every member confirms it (DESIGN §3.5), off by default.
/// </summary>
public sealed class LeaseKeeper(
    ILeaseStore store,
    LeaseTimings timings,
    TimeProvider time,
    ILogger? logger = null,
    Func<bool>? failsafeConfirms = null,
    Action<TimeSpan>? renewed = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>
    /// Holds <paramref name="lease"/> until <paramref name="cancellationToken"/> is cancelled (then
    /// releases it) or the lease is lost (then calls <paramref name="giveUp"/> and returns its report).
    /// </summary>
    /// <param name="releaseOnCancel">false leaves the lease to expire, as a crashed holder would.</param>
    public async Task<LeaseGivenUp?> HoldAsync(LeaseGrant lease, Func<LeaseGivenUp, Task> giveUp, CancellationToken cancellationToken, bool releaseOnCancel = true)
    {
        var lastRenewalStart = time.GetTimestamp();
        // Whoever watches this holder (a watchdog) learns how long it may go without a renewal.
        renewed?.Invoke(timings.Deadline - time.GetElapsedTime(lastRenewalStart));
        while (true)
        {
            var nextRenewal = lastRenewalStart + Ticks(timings.RenewEvery);
            try
            {
                await DelayUntilAsync(nextRenewal, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (releaseOnCancel) await ReleaseQuietlyAsync(lease).ConfigureAwait(false);
                return null;
            }

            var deadline = lastRenewalStart + Ticks(timings.Deadline);
            string? failure = null;
            while (true)
            {
                var attemptStart = time.GetTimestamp();
                var left = time.GetElapsedTime(attemptStart, deadline);
                if (attemptStart >= deadline)
                {
                    if (failsafeConfirms?.Invoke() == true)
                    {
                        _logger.LogWarning("Lease {Key} not renewed by its deadline ({Failure}); failsafe: every member confirms this holder, staying", lease.Key, failure);
                        lastRenewalStart = attemptStart - Ticks(timings.Deadline) + Ticks(timings.RenewEvery);
                        break;
                    }
                    var report = new LeaseGivenUp($"could not renew within ttl - fence_margin: {failure}", timings.FenceMargin - time.GetElapsedTime(deadline, attemptStart), lease);
                    _logger.LogError("Lease {Key} (token {Token}) not renewed in time ({Failure}); giving up with {Margin} ms left", lease.Key, lease.Token, failure, report.MarginLeft.TotalMilliseconds);
                    await giveUp(report).ConfigureAwait(false);
                    return report;
                }
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(left);
                try
                {
                    await store.RenewAsync(lease, attempt.Token).ConfigureAwait(false);
                    lastRenewalStart = attemptStart;
                    renewed?.Invoke(timings.Deadline - time.GetElapsedTime(lastRenewalStart));
                    break;
                }
                catch (LeaseLostException e)
                {
                    var report = new LeaseGivenUp(e.Message, timings.FenceMargin + time.GetElapsedTime(time.GetTimestamp(), deadline), lease);
                    _logger.LogError("Lease {Key} (token {Token}) lost: {Reason}; giving up", lease.Key, lease.Token, e.Message);
                    await giveUp(report).ConfigureAwait(false);
                    return report;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    if (releaseOnCancel) await ReleaseQuietlyAsync(lease).ConfigureAwait(false);
                    return null;
                }
                catch (Exception e)
                {
                    // Anything but a definite loss leaves the outcome unknown: retry until the deadline.
                    failure = e is OperationCanceledException ? "renewal timed out" : e.Message;
                    _logger.LogWarning("Renewing lease {Key} failed: {Failure}; retrying until the deadline", lease.Key, failure);
                    try { await DelayUntilAsync(Math.Min(time.GetTimestamp() + Ticks(timings.Ttl / 20), deadline), cancellationToken).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return null; }
                }
            }
        }
    }

    private async Task ReleaseQuietlyAsync(LeaseGrant lease)
    {
        try
        {
            using var timeout = new CancellationTokenSource(timings.FenceMargin);
            await store.ReleaseAsync(lease, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LeaseStoreUnavailableException or OperationCanceledException)
        {
            _logger.LogWarning("Could not release lease {Key}: {Error}; it will expire", lease.Key, e.Message);
        }
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    private Task DelayUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        var wait = time.GetElapsedTime(time.GetTimestamp(), timestamp);
        return wait > TimeSpan.Zero ? Task.Delay(wait, time, cancellationToken) : Task.CompletedTask;
    }
}
