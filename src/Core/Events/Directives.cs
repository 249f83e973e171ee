using System.Text.Json.Serialization;
using HA.Core.Directives;

namespace HA.Core.Events;

/// <summary>What the coordinator can tell an agent to do to its own PostgreSQL.</summary>
public enum DirectiveKind
{
    Fence,
    Promote,
    Demote,
    Rewind,
    Reinitialize,
    Repoint,
    Checkpoint,
    ApplyConfig,

    /// <summary>Restart a standby (fast stop, start) so that parameters pending restart take effect.</summary>
    Restart,
}

/// <summary>
/// The coordinator sent a directive to one node's agent (term and fencing token let the agent refuse a stale one).
/// <see cref="Kind"/> is <see cref="Directive"/>'s kind, kept as its own property for filters and metrics.
/// </summary>
public sealed record DirectiveIssued(
    string DirectiveId,
    string Node,
    DirectiveKind Kind,
    long Term,
    long FencingToken,
    DateTimeOffset ExpiresAt,
    Directive Directive) : ClusterEvent, INodeEvent, ITermEvent, IJsonOnDeserialized
{
    private Directive _directive = Directive;
    private IReadOnlyDictionary<string, string>? _arguments;

    public Directive Directive
    {
        get => _directive;
        init => _directive = value;
    }

    /// <summary>
    /// Only in events stored before directives were typed (read, never written): what
    /// <see cref="LegacyDirectivePayloads"/> turns into <see cref="Directive"/> once the event is read.
    /// </summary>
    [JsonInclude]
    [JsonPropertyName("arguments")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private IReadOnlyDictionary<string, string>? LegacyArguments
    {
        get => _arguments;
        init => _arguments = value;
    }

    void IJsonOnDeserialized.OnDeserialized()
    {
        if (_directive is not null) return;
        _directive = LegacyDirectivePayloads.Directive(Kind, _arguments ?? new Dictionary<string, string>());
        _arguments = null;
    }
}

/// <summary>
/// An agent did the directive: <see cref="Outcome"/> says what it did as data, <see cref="Detail"/> for people.
/// Events stored before outcomes were typed have only the Detail (Outcome null); <see cref="State.ClusterState"/>
/// reads those through <see cref="LegacyDirectivePayloads"/>.
/// </summary>
public sealed record DirectiveSucceeded(string DirectiveId, string Node, TimeSpan Duration, string Detail, DirectiveOutcome? Outcome = null) : ClusterEvent, INodeEvent;

public sealed record DirectiveFailed(string DirectiveId, string Node, TimeSpan Duration, string Error) : ClusterEvent, INodeEvent;

/// <summary>
/// A directive got no answer before it expired. The coordinator either issues it again
/// (<see cref="Retrying"/>, as a new directive) or abandons it; either way it is no longer pending.
/// </summary>
public sealed record DirectiveExpired(string DirectiveId, string Node, DirectiveKind Kind, int Attempt, bool Retrying, string Reason) : ClusterEvent, INodeEvent;
