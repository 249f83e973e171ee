using HA.Core.Events;

namespace HA.Core.History;

/// <summary>One directive of a failover, with its outcome and how long the agent took.</summary>
public sealed record FailoverDirective(
    string DirectiveId,
    string Node,
    DirectiveKind Kind,
    DateTimeOffset IssuedAt,
    string Outcome,
    TimeSpan? Duration,
    string? Detail);

/// <summary>
/// "Why did n2 become primary at 03:12, and why not n3?": a failover told from its events: the
/// trigger and observations, every candidate with the reason it was or was not chosen, each directive
/// with its outcome and duration, the new primary and the total time.
/// </summary>
public sealed record FailoverStory(
    string Cluster,
    string FailoverId,
    string Trigger,
    DateTimeOffset StartedAt,
    long Term,
    string? OldPrimary,
    string? Chosen,
    IReadOnlyList<CandidateAssessment> Candidates,
    IReadOnlyList<Observation> Observations,
    IReadOnlyList<FailoverDirective> Directives,
    string? NewPrimary,
    DateTimeOffset? PrimaryChangedAt,
    string Outcome,
    TimeSpan? Duration,
    IReadOnlyList<RecordedEvent> Events)
{
    /// <summary>Tells the story of <paramref name="failoverId"/> from the events of its operation; null if it never started.</summary>
    public static FailoverStory? From(string failoverId, IEnumerable<RecordedEvent> operationEvents)
    {
        var events = operationEvents.OrderBy(e => e.Version).ToList();
        var started = events.FirstOrDefault(e => e.Event is FailoverStarted f && f.FailoverId == failoverId);
        if (started?.Event is not FailoverStarted start) return null;

        var outcomes = events.Select(e => e.Event).ToList();
        var directives = events
            .Where(e => e.Event is DirectiveIssued)
            .Select(e =>
            {
                var issued = (DirectiveIssued)e.Event;
                return outcomes.FirstOrDefault(o => o is DirectiveSucceeded s && s.DirectiveId == issued.DirectiveId) is DirectiveSucceeded ok
                    ? new FailoverDirective(issued.DirectiveId, issued.Node, issued.Kind, e.At, "succeeded", ok.Duration, ok.Detail)
                    : outcomes.FirstOrDefault(o => o is DirectiveFailed f && f.DirectiveId == issued.DirectiveId) is DirectiveFailed failed
                        ? new FailoverDirective(issued.DirectiveId, issued.Node, issued.Kind, e.At, "failed", failed.Duration, failed.Error)
                        : new FailoverDirective(issued.DirectiveId, issued.Node, issued.Kind, e.At, "pending", null, null);
            })
            .ToList();
        var primaryChanged = events.FirstOrDefault(e => e.Event is PrimaryChanged p && p.Term == start.Term);
        var end = events.FirstOrDefault(e => e.Event is FailoverCompleted c && c.FailoverId == failoverId || e.Event is FailoverFailed f && f.FailoverId == failoverId);
        var (outcome, duration) = end?.Event switch
        {
            FailoverCompleted c => ("completed", (TimeSpan?)c.Duration),
            FailoverFailed f => ($"failed: {f.Reason}", f.Duration),
            _ => ("in progress", null),
        };
        return new FailoverStory(started.Cluster, failoverId, start.Trigger, started.At, start.Term, start.OldPrimary, start.Candidate,
            start.Candidates, start.Observations, directives, (primaryChanged?.Event as PrimaryChanged)?.Node, primaryChanged?.At,
            outcome, duration, events);
    }
}
