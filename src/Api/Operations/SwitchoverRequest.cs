using System.Globalization;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// A switchover asked for (POST /api/v1/cluster/switchover, <c>pgha switchover</c>): recorded as
/// SwitchoverRequested once checked against the log and — when it is to happen now — against the target's
/// replay position read from PostgreSQL (a lagging target or one that is not a standby is refused before
/// anything is recorded, with the reason the coordinator would give); cancelled (a scheduled one) by
/// SwitchoverFailed; its outcome read from the log.
/// </summary>
public static class SwitchoverRequest
{
    public sealed record Recorded(SwitchoverRequested Request, ClusterState State, bool Scheduled);

    public static async Task<Recorded> RecordAsync(WitnessStore witness, PghaConfig config, string to, DateTimeOffset? at, Initiator by, CancellationToken cancellationToken)
    {
        var state = await OperatorRequests.RequireNodeAsync(witness, config.Cluster, to, cancellationToken).ConfigureAwait(false);
        var id = "switchover-" + Guid.NewGuid().ToString("n")[..8];
        var request = new SwitchoverRequested(id, state.Primary ?? "", to, at) { By = by, CorrelationId = id };
        var scheduled = at is { } when && when > DateTimeOffset.UtcNow;
        if (state.Check(request) is { } refused) throw new EventRejectedError(config.Cluster, nameof(SwitchoverRequested), refused);
        if (!scheduled && await TargetProblemAsync(state, config, state.Primary!, to, cancellationToken).ConfigureAwait(false) is { } problem)
            throw new EventRejectedError(config.Cluster, nameof(SwitchoverRequested), problem);
        var recorded = await witness.AppendCheckedAsync(config.Cluster, request, cancellationToken).ConfigureAwait(false);
        return new Recorded(request, recorded, scheduled);
    }

    /// <summary>The line that says what was recorded.</summary>
    public static string Describe(Recorded r) => r.Scheduled
        ? $"cluster {r.State.Cluster}: switchover {r.Request.SwitchoverId} from {r.Request.From} to {r.Request.To} scheduled at {r.Request.At!.Value.ToString("O", CultureInfo.InvariantCulture)} (version {r.State.Version}); cancel with pgha switchover --cancel"
        : $"cluster {r.State.Cluster}: switchover {r.Request.SwitchoverId} from {r.Request.From} to {r.Request.To} requested";

    /// <summary>
    /// What the coordinator would refuse the target for, read from the two PostgreSQL servers now; null when
    /// nothing is wrong or when either cannot be reached (the coordinator then judges with its own reports).
    /// </summary>
    private static async Task<string?> TargetProblemAsync(ClusterState state, PghaConfig config, string primary, string to, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(config.SuperuserPassword)) return null;
        var target = await MemberConnection.ScalarAsync<string>(state.Nodes[to], config,
            "SELECT CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_replay_lsn()::text, '') ELSE 'primary' END", cancellationToken).ConfigureAwait(false);
        if (target is null) return null;
        var current = await MemberConnection.ScalarAsync<string>(state.Nodes[primary], config, "SELECT pg_current_wal_lsn()::text", cancellationToken).ConfigureAwait(false);
        var evidence = new SwitchoverEvidence(true, true, target != "primary",
            Lsn.TryParse(target, out var replayed) ? replayed : null, Lsn.TryParse(current, out var written) ? written : null);
        return SwitchoverSteps.TargetProblem(evidence, primary, to, config.SwitchoverMaxLag);
    }

    /// <summary>Cancels the scheduled (or not yet started) switchover: SwitchoverFailed "cancelled by …".</summary>
    public static async Task<(ActiveOperation Cancelled, ClusterState State)> CancelAsync(WitnessStore witness, string cluster, Initiator by, CancellationToken cancellationToken)
    {
        var state = await witness.StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        var running = state.Switchover ?? throw new EventRejectedError(cluster, nameof(SwitchoverFailed), "no switchover is scheduled or running");
        var after = await witness.AppendCheckedAsync(cluster, new SwitchoverFailed(running.Id, $"cancelled by {by}") { By = by, CorrelationId = running.Id }, cancellationToken).ConfigureAwait(false);
        return (running, after);
    }

    /// <summary>Waits up to <paramref name="timeout"/> for SwitchoverCompleted or SwitchoverFailed of <paramref name="id"/>.</summary>
    public static async Task<OperationOutcome> OutcomeAsync(WitnessStore witness, string cluster, string id, TimeSpan timeout, CancellationToken cancellationToken) =>
        await OutcomeWatch.FirstAsync(witness, cluster, new HistoryFilter { CorrelationId = id }, timeout, e => e switch
        {
            SwitchoverCompleted done => OperationOutcome.Completed(id, $"switchover {id}: {done.To} is the primary; writes paused {done.WritePause?.TotalMilliseconds ?? 0:0} ms; took {done.Duration.TotalSeconds:0.00} s"),
            SwitchoverFailed failed => OperationOutcome.Failed(id, $"switchover {id} failed: {failed.Reason}"),
            _ => null,
        }, cancellationToken).ConfigureAwait(false)
        ?? OperationOutcome.Running(id, $"switchover {id} did not finish within {timeout.TotalSeconds:0} s; it goes on: see the cluster's history (correlation id {id})");
}
