using System.Text.Json.Serialization;

namespace HA.Core.Directives;

/// <summary>
/// What an agent did with a directive, as data: carried by <see cref="Events.DirectiveSucceeded"/> (and the
/// agent's answer) beside the human Detail line. Decisions read these, never the Detail. Same JSON rules as
/// <see cref="Directive"/>: a stable "$type" and property names of at least five characters.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = Directive.Discriminator)]
[JsonDerivedType(typeof(Fenced), "fenced")]
[JsonDerivedType(typeof(Promoted), "promoted")]
[JsonDerivedType(typeof(Demoted), "demoted")]
[JsonDerivedType(typeof(Following), "following")]
[JsonDerivedType(typeof(Rejoined), "rejoined")]
[JsonDerivedType(typeof(Checkpointed), "checkpointed")]
[JsonDerivedType(typeof(SynchronousStandbysSet), "synchronous_standbys_set")]
[JsonDerivedType(typeof(ParametersSet), "parameters_set")]
[JsonDerivedType(typeof(Restarted), "restarted")]
public abstract record DirectiveOutcome;

/// <summary>FENCE done: the node no longer accepts writes (it was stopped already, or is now).</summary>
public sealed record Fenced : DirectiveOutcome;

/// <summary>PROMOTE done: primary on <paramref name="Timeline"/>, at <paramref name="Position"/> (null when it already was primary).</summary>
public sealed record Promoted(int Timeline, string? Position, bool AlreadyPrimary = false) : DirectiveOutcome;

/// <summary>DEMOTE done: stopped cleanly at <paramref name="FinalLsn"/> (null: it already was a standby), now following <paramref name="Upstream"/>.</summary>
public sealed record Demoted(string? FinalLsn, string Upstream) : DirectiveOutcome;

/// <summary>REPOINT done: streaming from <paramref name="Upstream"/>.</summary>
public sealed record Following(string Upstream) : DirectiveOutcome;

/// <summary>How a node came back as a replica of the new primary.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RejoinMethod>))]
public enum RejoinMethod
{
    Rewind,
    Reinitialize,
}

/// <summary>
/// REWIND or REINITIALIZE done: rejoined <paramref name="Upstream"/> by <paramref name="Method"/>; a REWIND that
/// fell back to a base backup says why pg_rewind failed (<paramref name="RewindFailure"/>).
/// </summary>
public sealed record Rejoined(RejoinMethod Method, string Upstream, string? RewindFailure = null) : DirectiveOutcome
{
    /// <summary>The method as <see cref="Events.NodeRejoined"/> records it.</summary>
    [JsonIgnore]
    public string MethodName => Method == RejoinMethod.Reinitialize ? "reinitialize" : "rewind";
}

/// <summary>CHECKPOINT done.</summary>
public sealed record Checkpointed : DirectiveOutcome;

/// <summary>APPLY_CONFIG of synchronous_standby_names done: <paramref name="Value"/> is in effect from <paramref name="EffectiveAt"/> (an LSN) on.</summary>
public sealed record SynchronousStandbysSet(string Value, string EffectiveAt) : DirectiveOutcome;

/// <summary>APPLY_CONFIG of the parameters done: the node runs with (or has read) <paramref name="Version"/>; what still needs a restart.</summary>
public sealed record ParametersSet(long Version, IReadOnlyList<string> PendingRestart, int SetCount = 0, int ResetCount = 0) : DirectiveOutcome
{
    public bool Equals(ParametersSet? other) =>
        other is not null && (Version, SetCount, ResetCount) == (other.Version, other.SetCount, other.ResetCount) && PendingRestart.SequenceEqual(other.PendingRestart);

    public override int GetHashCode() => HashCode.Combine(Version, SetCount, ResetCount, PendingRestart.Count);
}

/// <summary>RESTART done: the standby streams from <paramref name="Upstream"/> again, running with <paramref name="ParametersVersion"/>; what is still pending.</summary>
public sealed record Restarted(long ParametersVersion, string Upstream, IReadOnlyList<string> PendingRestart) : DirectiveOutcome
{
    public bool Equals(Restarted? other) =>
        other is not null && (ParametersVersion, Upstream) == (other.ParametersVersion, other.Upstream) && PendingRestart.SequenceEqual(other.PendingRestart);

    public override int GetHashCode() => HashCode.Combine(ParametersVersion, Upstream, PendingRestart.Count);
}
