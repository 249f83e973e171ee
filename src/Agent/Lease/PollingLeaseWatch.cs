using System.Runtime.CompilerServices;
using HA.Core.Leases;

namespace HA.Agent.Lease;

/// <summary>
/// A watch built from reads: the holder each time it changes (null when the key becomes free),
/// starting with the current one. Expiry is a time passing, not a write, so a store that cannot
/// notify it is watched by polling; unanswered reads are skipped.
/// </summary>
public static class PollingLeaseWatch
{
    public static async IAsyncEnumerable<LeaseHolder?> WatchAsync(
        Func<CancellationToken, Task<LeaseHolder?>> read, TimeSpan every, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        (string, long)? last = (null!, -1);
        while (!cancellationToken.IsCancellationRequested)
        {
            LeaseHolder? now = null;
            var answered = false;
            try
            {
                now = await read(cancellationToken).ConfigureAwait(false);
                answered = true;
            }
            catch (LeaseStoreUnavailableException) { }
            catch (OperationCanceledException) { yield break; }
            if (answered && (now is null ? last is not null : last != (now.Holder, now.Token)))
            {
                last = now is null ? null : (now.Holder, now.Token);
                yield return now;
            }
            try { await Task.Delay(every, cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) { yield break; }
        }
    }
}
