using HA.Core.Directives;
using HA.Core.Coordinator;
using HA.Core.Events;
using HA.Core.Failover;
using HA.Core.Replication;
using HA.Core.State;
using HA.Core.Tests.State;

namespace HA.Core.Tests.Coordinator;

/// <summary>
/// A coordinator driven round by round over a checked log: the heartbeats, the primary lease and the
/// clock are set by the test, the policy decides, and what it decides is appended as the witness store
/// would (checked, fenced by the token). Agents' answers are appended by the test.
/// </summary>
internal sealed class CoordinatorRig
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 4, 0, 0, TimeSpan.Zero);

    private int _ids;

    public Scenario Scenario { get; }
    public ClusterState State => Scenario.State;
    public CoordinatorMemory Memory { get; set; } = CoordinatorMemory.Empty;
    public DateTimeOffset Now { get; private set; } = T0;
    public string Node { get; init; } = "n1";
    public long Token { get; init; } = 7;
    public CoordinatorSettings Settings { get; set; } = new();
    public string? LeaseHolder { get; set; } = "n1";
    public RecordedPrimaryPosition? Position { get; set; }

    /// <summary>The last heartbeat of each member; those in <see cref="Silent"/> keep their ReceivedAt, the others are heard at every round.</summary>
    public Dictionary<string, HeartbeatReport> Beats { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Silent { get; } = new(StringComparer.Ordinal);

    /// <summary>Every decision taken, with the state version it was taken at.</summary>
    public List<(long Version, Decision Decision)> Decisions { get; } = [];

    public CoordinatorRig(Scenario scenario) => Scenario = scenario;

    /// <summary>Three nodes (n1 primary, n2 and n3 streaming from it at 0/5000000), n1 coordinator with token 7 long in office, nothing left to do.</summary>
    public static CoordinatorRig Settled(int nodes = 3, CoordinatorSettings? settings = null)
    {
        var rig = new CoordinatorRig(Scenario.Bootstrapped(nodes)) { Settings = settings ?? new CoordinatorSettings() };
        rig.Scenario.Append(new CoordinatorElected("n1", 7) { By = Initiator.Coordinator("n1"), CorrelationId = "coordinator-7" }, 7);
        rig.Memory = CoordinatorMemory.Empty with { InOfficeSince = T0.AddMinutes(-1) };
        rig.Primary("n1", "0/5000000");
        for (var i = 2; i <= nodes; i++) rig.Standby($"n{i}", "n1", "0/5000000");
        rig.Settle();
        return rig;
    }

    public void Primary(string node, string lsn, int timeline = 1) =>
        Beats[node] = new HeartbeatReport(node, Now) { PostgresRunning = true, Timeline = timeline, CurrentLsn = Lsn.Parse(lsn) };

    public void Standby(string node, string? upstream, string lsn, int timeline = 1) =>
        Beats[node] = new HeartbeatReport(node, Now) { PostgresRunning = true, InRecovery = true, Timeline = timeline, Upstream = upstream, ReceivedLsn = Lsn.Parse(lsn), ReplayedLsn = Lsn.Parse(lsn) };

    public void Down(string node, DateTimeOffset since) =>
        Beats[node] = Beats[node] with { PostgresRunning = false, PostgresDownSince = since, Detail = "PostgreSQL is not running" };

    /// <summary>Its agent stops sending heartbeats (its last one stays, and ages).</summary>
    public void Silence(string node) => Silent.Add(node);

    public void Advance(double seconds) => Now = Now.AddSeconds(seconds);

    public CoordinatorEvidence Evidence(Func<string>? newId = null) => new("demo", Node, Token,
        Scenario.State.Nodes.Values.Select(n => new NodeSpec(n.Name, n.Host, n.Port)).ToList(),
        Beats.ToDictionary(b => b.Key, b => Silent.Contains(b.Key) ? b.Value : b.Value with { ReceivedAt = Now }, StringComparer.Ordinal),
        LeaseHolder, Position, Now, Settings, newId ?? (() => $"id{++_ids}"));

    /// <summary>One round: decide and append what was decided.</summary>
    public Decision Step()
    {
        var version = State.Version;
        (var decision, Memory) = CoordinatorPolicy.Decide(State, Evidence(), Memory);
        Decisions.Add((version, decision));
        foreach (var e in decision.Events) Scenario.Append(e, Token);
        return decision;
    }

    /// <summary>Rounds (answering the primary's APPLY_CONFIG as its agent would) until nothing is left to do.</summary>
    public void Settle()
    {
        for (var round = 0; round < 20; round++)
        {
            var decision = Step();
            if (decision.Events.Count == 0) return;
            foreach (var issued in decision.Events.OfType<DirectiveIssued>().Where(d => d.Kind == DirectiveKind.ApplyConfig).ToList())
                AppliedSynchronous(issued, Beats[issued.Node].CurrentLsn!.Value.ToString());
        }
        throw new InvalidOperationException("the coordinator never settled");
    }

    /// <summary>The pending directive of <paramref name="kind"/> (to <paramref name="node"/>).</summary>
    public PendingDirective Pending(DirectiveKind kind, string? node = null) =>
        State.PendingDirectives.Values.Single(d => d.Kind == kind && (node is null || d.Node == node));

    /// <summary>The agent answers the pending directive of <paramref name="kind"/>.</summary>
    public void Answer(DirectiveKind kind, string? node = null, bool success = true, string detail = "done", DirectiveOutcome? outcome = null)
    {
        var pending = Pending(kind, node);
        Scenario.Append(success
            ? new DirectiveSucceeded(pending.DirectiveId, pending.Node, TimeSpan.FromMilliseconds(300), detail, outcome) { By = Initiator.Agent(pending.Node), CorrelationId = pending.CorrelationId ?? pending.DirectiveId }
            : new DirectiveFailed(pending.DirectiveId, pending.Node, TimeSpan.FromMilliseconds(300), detail) { By = Initiator.Agent(pending.Node), CorrelationId = pending.CorrelationId ?? pending.DirectiveId });
    }

    /// <summary>The primary's agent answers an APPLY_CONFIG of synchronous_standby_names: in effect at <paramref name="lsn"/>.</summary>
    public void AppliedSynchronous(DirectiveIssued issued, string lsn)
    {
        var value = ((ApplySynchronousStandbys)issued.Directive).Value;
        Scenario.Append(new DirectiveSucceeded(issued.DirectiveId, issued.Node, TimeSpan.FromMilliseconds(5), SyncApplyDetail.Format(value, Lsn.Parse(lsn)), new SynchronousStandbysSet(value, lsn)) { By = Initiator.Agent(issued.Node), CorrelationId = issued.CorrelationId });
        Scenario.Append(new SynchronousStandbysApplied(issued.Node, value, lsn) { By = Initiator.Agent(issued.Node), CorrelationId = issued.CorrelationId });
    }

    /// <summary>The directives a decision issues, as (kind, node).</summary>
    public static IReadOnlyList<(DirectiveKind Kind, string Node)> Directives(Decision decision) =>
        [.. decision.Events.OfType<DirectiveIssued>().Select(d => (d.Kind, d.Node))];
}
