using System.Text.Json.Serialization;
using HA.Core.Events;

namespace HA.Core.Directives;

/// <summary>
/// What the coordinator tells one agent to do, one record per kind, carried by <see cref="DirectiveIssued"/>
/// (stored in the log and sent on the agent's queue). The JSON discriminator ("$type") is a stable name
/// written into the log: it never changes once stored. PostgreSQL's jsonb stores keys shortest first,
/// and System.Text.Json needs "$type" before the other keys, so every property of a directive has a name
/// of at least five characters (a unit test holds every record to it).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = Discriminator)]
[JsonDerivedType(typeof(Fence), "fence")]
[JsonDerivedType(typeof(Promote), "promote")]
[JsonDerivedType(typeof(Demote), "demote")]
[JsonDerivedType(typeof(Repoint), "repoint")]
[JsonDerivedType(typeof(Rewind), "rewind")]
[JsonDerivedType(typeof(Reinitialize), "reinitialize")]
[JsonDerivedType(typeof(Checkpoint), "checkpoint")]
[JsonDerivedType(typeof(ApplySynchronousStandbys), "apply_synchronous_standbys")]
[JsonDerivedType(typeof(ApplyParameters), "apply_parameters")]
[JsonDerivedType(typeof(Restart), "restart")]
public abstract record Directive
{
    /// <summary>The JSON property that names the record (shared by <see cref="DirectiveOutcome"/>).</summary>
    public const string Discriminator = "$type";

    /// <summary>The kind as the log and the metrics name it (two records share APPLY_CONFIG); not stored: "$type" says it (System.Text.Json does not inherit [JsonIgnore], so each override repeats it).</summary>
    [JsonIgnore]
    public abstract DirectiveKind Kind { get; }
}

/// <summary>FENCE: stop accepting writes now (DESIGN §3.1).</summary>
public sealed record Fence : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Fence;
}

/// <summary>
/// PROMOTE: end recovery and accept writes, starting with <paramref name="SynchronousStandbyNames"/>
/// (null: leave the setting as it is, what a PROMOTE stored without one meant); in a switchover only
/// once <paramref name="AfterLsn"/> (the demoted primary's final LSN) is replayed.
/// </summary>
public sealed record Promote(string? SynchronousStandbyNames, string? AfterLsn = null) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Promote;
}

/// <summary>DEMOTE: clean stop, then start as a standby of <paramref name="Upstream"/> (planned switchover).</summary>
public sealed record Demote(string Upstream) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Demote;
}

/// <summary>REPOINT: stream from <paramref name="Upstream"/>.</summary>
public sealed record Repoint(string Upstream) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Repoint;
}

/// <summary>REWIND: pg_rewind against <paramref name="Upstream"/>, a new base backup from it when that fails.</summary>
public sealed record Rewind(string Upstream) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Rewind;
}

/// <summary>REINITIALIZE: a new base backup from <paramref name="Upstream"/>.</summary>
public sealed record Reinitialize(string Upstream) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Reinitialize;
}

/// <summary>CHECKPOINT: before a planned demotion, so its shutdown checkpoint is short.</summary>
public sealed record Checkpoint : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Checkpoint;
}

/// <summary>APPLY_CONFIG of the primary's synchronous_standby_names (answered with the LSN from which it is in effect).</summary>
public sealed record ApplySynchronousStandbys(string Value) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.ApplyConfig;
}

/// <summary>
/// APPLY_CONFIG of the cluster's parameters: the whole <paramref name="Desired"/> set (not a difference,
/// so applying it twice is harmless), the names pgha set before and no longer sets (<paramref name="Reset"/>),
/// and the parameters version it brings the node to.
/// </summary>
public sealed record ApplyParameters(IReadOnlyDictionary<string, string> Desired, IReadOnlyList<string> Reset, long Version) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.ApplyConfig;

    // Collections compare by content: the same set is the same directive.
    public bool Equals(ApplyParameters? other) =>
        other is not null && Version == other.Version && Reset.SequenceEqual(other.Reset)
        && Desired.Count == other.Desired.Count && Desired.All(p => other.Desired.TryGetValue(p.Key, out var v) && v == p.Value);

    public override int GetHashCode() => HashCode.Combine(Version, Desired.Count, Reset.Count);
}

/// <summary>RESTART of a standby so that parameters pending a restart take effect; it runs with <paramref name="ParametersVersion"/>.</summary>
public sealed record Restart(long ParametersVersion) : Directive
{
    [JsonIgnore]
    public override DirectiveKind Kind => DirectiveKind.Restart;
}
