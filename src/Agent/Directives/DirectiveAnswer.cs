using HA.Core.Directives;

namespace HA.Agent.Directives;

/// <summary>What a handler did: the typed outcome the log and the coordinator decide from, and the sentence for people.</summary>
public sealed record DirectiveAnswer(DirectiveOutcome Outcome, string Detail);
