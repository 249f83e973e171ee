using System.Globalization;
using HA.Agent.Postgres;

namespace HA.Agent.Runtime;

/// <summary>
/// The primary's software watchdog, outside the .NET runtime: a detached bash watcher that stops the
/// local PostgreSQL (when it runs as a primary) if the agent does not confirm a lease renewal before the
/// renewal's deadline, or if the agent process dies. So a primary is fenced in time even when its agent
/// is stalled (thread pool starved, paused, swapping) and cannot run its own fence — the role of
/// Patroni's hardware watchdog, DESIGN §3.1.
/// </summary>
public sealed class LeaseWatchdog : IDisposable
{
    private readonly OrphanGuard _watcher;

    private LeaseWatchdog(OrphanGuard watcher) => _watcher = watcher;

    /// <param name="fenceScript">bash commands that stop PostgreSQL if it runs as a primary (<see cref="PostgresInstance.StopPrimaryScript"/>).</param>
    public static LeaseWatchdog Start(string fenceScript, string logFile)
    {
        var watcher = $$"""
            armed=0; left=3600
            while true; do
              if [ "$armed" = 1 ]; then wait_for="$left"; else wait_for=3600; fi
              if read -r -t "$wait_for" -u 3 line; then
                case "$line" in
                  disarm) exit 0 ;;
                  off) armed=0 ;;
                  keep\ *) armed=1; left="${line#keep }" ;;
                esac
              else
                status=$?
                if [ "$status" -gt 128 ]; then
                  if [ "$armed" = 1 ]; then
                    echo "$(date -Is) no lease renewal confirmed within ${left} s: fencing"
                    {{fenceScript}}
                    armed=0
                  fi
                else
                  echo "$(date -Is) agent gone: fencing"
                  {{fenceScript}}
                  exit 0
                fi
              fi
            done
            """;
        return new LeaseWatchdog(OrphanGuard.Start(watcher, logFile));
    }

    /// <summary>The lease was (re)newed: fence unless told again within <paramref name="left"/>.</summary>
    public void Keep(TimeSpan left) =>
        _watcher.Send("keep " + Math.Max(0.05, left.TotalSeconds).ToString("0.###", CultureInfo.InvariantCulture));

    /// <summary>No lease held any more: stop timing (still fence if the agent dies while a primary).</summary>
    public void Off() => _watcher.Send("off");

    /// <summary>The agent stops cleanly: the watcher exits.</summary>
    public void Disarm() => _watcher.Disarm();

    public void Dispose() => _watcher.Dispose();
}
