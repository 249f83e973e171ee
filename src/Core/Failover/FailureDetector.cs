using System.Globalization;
using HA.Core.Events;
using HA.Core.State;

namespace HA.Core.Failover;

/// <summary>What one observer (a peer's agent) currently sees of the primary's PostgreSQL.</summary>
public sealed record PrimaryObservation(string Observer, bool Reachable, DateTimeOffset? UnreachableSince, string Detail);

/// <summary>Everything the coordinator knows of the primary at one moment.</summary>
/// <param name="DownSinceByOwnAgent">since when the primary's own agent reports PostgreSQL down (null: up, or no report)</param>
/// <param name="PrimaryLeaseHolder">who holds the primary lease now (null: nobody — it expired or was released)</param>
/// <param name="Observations">what each peer's agent sees of the primary</param>
public sealed record PrimaryEvidence(DateTimeOffset? DownSinceByOwnAgent, string? PrimaryLeaseHolder, IReadOnlyList<PrimaryObservation> Observations);

/// <summary>Detection timings (DESIGN §5).</summary>
public sealed record DetectionSettings
{
    /// <summary>failure_timeout: how long a majority of observers must fail to reach the primary.</summary>
    public TimeSpan FailureTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>primary_restart_timeout: how long the primary's agent may try restarting it in place; zero fails over at once.</summary>
    public TimeSpan PrimaryRestartTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The detector's verdict: <see cref="Trigger"/> (the sentence) is null while the primary is not lost; <see cref="TriggerKind"/> says which rule found it lost.</summary>
public sealed record PrimaryVerdict(string? Trigger, IReadOnlyList<Observation> Observations)
{
    public FailureTrigger? TriggerKind { get; init; }

    public bool Lost => Trigger is not null;
}

/// <summary>
/// DESIGN §5's detection, pure: the primary is lost when (a) its own agent reports PostgreSQL down
/// and restarting it in place has not succeeded within primary_restart_timeout, or (b) its primary
/// lease expired, or (c) a majority of the observers cannot reach it for failure_timeout — so one link
/// blipping never triggers a failover.
/// </summary>
public static class FailureDetector
{
    public static PrimaryVerdict JudgePrimary(ClusterState state, PrimaryEvidence evidence, DetectionSettings settings, DateTimeOffset now)
    {
        var observations = evidence.Observations
            .Select(o => new Observation(o.Observer, state.Primary ?? "", o.Reachable, o.Detail))
            .ToList();
        if (state.Primary is not { } primary) return new PrimaryVerdict("the cluster has no primary", observations) { TriggerKind = FailureTrigger.NoPrimary };

        if (evidence.DownSinceByOwnAgent is { } downSince && now - downSince >= settings.PrimaryRestartTimeout)
            return new PrimaryVerdict($"agent of {primary} reports PostgreSQL down for {Seconds(now - downSince)} s and restarting it did not succeed within primary_restart_timeout ({Seconds(settings.PrimaryRestartTimeout)} s)", observations)
            { TriggerKind = FailureTrigger.PostgresDown };

        if (evidence.PrimaryLeaseHolder != primary)
            return new PrimaryVerdict(evidence.PrimaryLeaseHolder is null
                ? $"the primary lease of {primary} expired"
                : $"the primary lease is held by {evidence.PrimaryLeaseHolder}, not by {primary}", observations)
            { TriggerKind = evidence.PrimaryLeaseHolder is null ? FailureTrigger.LeaseExpired : FailureTrigger.LeaseHeldElsewhere };

        // While the primary's own agent reports its PostgreSQL down, that agent is in charge: it restarts
        // it within primary_restart_timeout, and rule (a) decides — peers failing to reach it then say nothing new.
        if (evidence.DownSinceByOwnAgent is not null) return new PrimaryVerdict(null, observations);

        var observers = state.Nodes.Keys.Where(n => n != primary).ToList();
        var failing = evidence.Observations
            .Where(o => observers.Contains(o.Observer) && !o.Reachable && o.UnreachableSince is { } since && now - since >= settings.FailureTimeout)
            .Select(o => o.Observer)
            .Distinct()
            .ToList();
        if (observers.Count > 0 && failing.Count * 2 > observers.Count)
            return new PrimaryVerdict($"{primary} unreachable from {failing.Count} of {observers.Count} observers ({string.Join(", ", failing)}) for failure_timeout ({Seconds(settings.FailureTimeout)} s)", observations)
            { TriggerKind = FailureTrigger.Unreachable };

        return new PrimaryVerdict(null, observations);
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
}
