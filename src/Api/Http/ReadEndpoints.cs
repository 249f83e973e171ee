using System.Reflection;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.Leases;
using HA.Core.State;
using HA.Projections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace HA.Api.Http;

/// <summary>The cluster at a glance (<c>GET /api/v1/status</c>).</summary>
public sealed record StatusView(
    string Cluster, string PghaVersion, string Node, long UptimeSeconds, long StateVersion, long Term,
    string? Coordinator, string? Primary, int Timeline, bool Paused, string? PausedReason,
    NodeCounts Nodes, ProxyView? Proxy, LeaseSummary Lease, string? Failover, string? Switchover);

public sealed record NodeCounts(int Total, int Up, int Down, IReadOnlyList<string> DownNodes);

public sealed record ProxyView(long Connections, IReadOnlyDictionary<string, long> ByNode);

public sealed record LeaseSummary(string Backend, string? Coordinator, string? Primary, string? Error);

/// <summary>One lease as its backend holds it now.</summary>
public sealed record LeaseView(string Lease, string Key, string? Holder, long? Token, DateTimeOffset? ExpiresAt, double? ExpiresInSeconds);

/// <summary>A directive the coordinator issued and what became of it.</summary>
public sealed record DirectiveView(
    string DirectiveId, string Node, string Kind, long Term, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt,
    string Outcome, DateTimeOffset? AnsweredAt, double? DurationSeconds, string? Detail, string CorrelationId);

/// <summary>The cluster state of <c>GET /api/v1/cluster/state</c> (live, or as it was at a time or version), nodes as a list.</summary>
public sealed record ClusterStateView(
    string Cluster, long Version, DateTimeOffset? AsOf, DateTimeOffset? LastChangeAt, DateTimeOffset? BootstrappedAt,
    long Term, string? Primary, long PrimaryTerm, int Timeline, string? PrimaryLsn, string? Coordinator, long CoordinatorToken,
    bool Paused, string? PausedReason, string? PausedBy, SynchronousMode SynchronousMode, int SynchronousNodeCount,
    IReadOnlyList<string> SynchronousStandbys, ActiveOperation? Failover, ActiveOperation? Switchover,
    IReadOnlyList<PendingDirective> PendingDirectives, IReadOnlyDictionary<string, string> Parameters, IReadOnlyList<string> PendingRestart,
    IReadOnlyList<NodeView> Nodes, RoutingTable Routing);

/// <summary>The story of one failover (<c>GET /api/v1/failovers/{id}</c>), its events as the event list shows them.</summary>
public sealed record FailoverStoryView(
    string Cluster, string FailoverId, string Trigger, DateTimeOffset StartedAt, long Term, string? OldPrimary, string? Chosen,
    IReadOnlyList<CandidateAssessment> Candidates, IReadOnlyList<Observation> Observations, IReadOnlyList<FailoverDirective> Directives,
    string? NewPrimary, DateTimeOffset? PrimaryChangedAt, string Outcome, TimeSpan? Duration, IReadOnlyList<EventView> Events);

/// <summary>
/// The read side of the REST API under <c>/api/v1</c> (docs/api.md, "Reads"): status, nodes, cluster
/// state (live or at a time or version), replication, lease, members, directives, events and the story
/// of a failover. Each answers from the witness store's log and projections, the heartbeats this node
/// hears and, for lag in seconds, the primary's pg_stat_replication. Errors are problem details.
/// </summary>
public static class ReadEndpoints
{
    public const int DefaultEventLimit = 100;
    public const int DefaultDirectiveLimit = 50;

    private static readonly string[] DirectiveTypes = ["directive_issued", "directive_succeeded", "directive_failed", "directive_expired"];

    private static readonly string Version = typeof(ReadEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "dev";

    public static void Map(WebApplication app, ApiContext context)
    {
        var reads = app.MapGroup("/api/v1");
        reads.AddEndpointFilter(async (invocation, next) => ApiAuthorization.Refusal(context, invocation.HttpContext.Request, change: false) ?? await next(invocation));
        reads.MapGet("/status", Handler(http => StatusAsync(context, http.RequestAborted)));
        reads.MapGet("/nodes", Handler(async http =>
        {
            var (state, nodes) = await NodesAsync(context, http.RequestAborted);
            return Json(new { cluster = state.Cluster, version = state.Version, primary = state.Primary, nodes = nodes.Select(n => n.Row()) });
        }));
        reads.MapGet("/nodes/{name}", (HttpContext http, string name) => Guarded(http, async () =>
        {
            var (state, nodes) = await NodesAsync(context, http.RequestAborted);
            return nodes.FirstOrDefault(n => n.Name == name) is { } node ? Json(node)
                : ApiProblems.NotFound($"no node '{name}'", $"node '{name}' is not a member of cluster {state.Cluster} (members: {string.Join(", ", state.Nodes.Keys)}); see GET /api/v1/nodes");
        }));
        reads.MapGet("/cluster/state", Handler(http => ClusterStateAsync(context, http)));
        reads.MapGet("/cluster/replication", Handler(http => ReplicationAsync(context, http)));
        reads.MapGet("/lease", Handler(http => LeaseAsync(context, http)));
        reads.MapGet("/members", Handler(async http =>
        {
            var state = await OptionalStateAsync(context, http.RequestAborted);
            return Json(new { node = context.Node, members = ClusterViews.Members(state, context.Heartbeats(), DateTimeOffset.UtcNow) });
        }));
        reads.MapGet("/directives", Handler(http => DirectivesAsync(context, http)));
        reads.MapGet("/events", Handler(http => EventsAsync(context, http)));
        reads.MapGet("/failovers/{id}", (HttpContext http, string id) => Guarded(http, async () =>
        {
            FailoverStory story;
            try
            {
                story = await context.Witness.ExplainFailoverAsync(context.Config.Cluster, id, http.RequestAborted);
            }
            catch (OperatorError e) when (e is not UnknownClusterError)
            {
                return ApiProblems.NotFound($"no failover '{id}'", $"{e.Message}; the ids are in GET /api/v1/events?type=failover_started");
            }
            return Json(new FailoverStoryView(story.Cluster, story.FailoverId, story.Trigger, story.StartedAt, story.Term, story.OldPrimary, story.Chosen,
                story.Candidates, story.Observations, story.Directives, story.NewPrimary, story.PrimaryChangedAt, story.Outcome, story.Duration,
                [.. story.Events.Select(ReadJson.Event)]));
        }));
    }

    /// <summary>A route handler (not a RequestDelegate, so that its result is written) running <paramref name="read"/> guarded.</summary>
    private static Delegate Handler(Func<HttpContext, Task<IResult>> read) => (HttpContext http) => Guarded(http, () => read(http));

    private static IResult Json(object value) => Results.Json(value, ReadJson.Options);

    /// <summary>Runs a read, turning what can go wrong into a problem detail that says what to do.</summary>
    private static async Task<IResult> Guarded(HttpContext http, Func<Task<IResult>> read)
    {
        try
        {
            return await read();
        }
        catch (BadParameter e)
        {
            return ApiProblems.BadParameter(e.Parameter, e.Message);
        }
        catch (UnknownClusterError e)
        {
            return ApiProblems.Unavailable("the cluster has no history yet", $"{e.Message}; the agents record it when they bootstrap it: try again in a moment");
        }
        catch (NpgsqlException e)
        {
            return ApiProblems.Unavailable("the witness store cannot be read",
                $"{e.GetBaseException().Message}; check that the witness PostgreSQL runs and witness.connection_string, or ask another node");
        }
    }

    private static async Task<ClusterState?> OptionalStateAsync(ApiContext context, CancellationToken cancellationToken)
    {
        try { return await context.Witness.StateAsync(context.Config.Cluster, cancellationToken); }
        catch (UnknownClusterError) { return null; }
    }

    /// <summary>A heartbeat older than this says nothing about now (as the coordinator judges them).</summary>
    private static TimeSpan Freshness(ApiContext context) => TimeSpan.FromTicks(Math.Max(context.Config.HealthInterval.Ticks * 4, TimeSpan.FromSeconds(1).Ticks));

    private static async Task<StatusView> StatusViewAsync(ApiContext context, CancellationToken cancellationToken)
    {
        var state = await context.Witness.StateAsync(context.Config.Cluster, cancellationToken);
        var (leases, error) = await ReadLeasesAsync(context, cancellationToken);
        var down = state.Nodes.Values.Where(n => n.Health != NodeHealth.Healthy || n.Fenced).Select(n => n.Name).ToList();
        var proxy = context.Proxy?.Server.Counters.OpenConnections;
        return new StatusView(
            state.Cluster, Version, context.Node, (long)(DateTimeOffset.UtcNow - context.StartedAt).TotalSeconds, state.Version, state.Term,
            state.Coordinator, state.Primary, state.Timeline, state.Paused, state.PausedReason,
            new NodeCounts(state.Nodes.Count, state.Nodes.Count - down.Count, down.Count, down),
            proxy is null ? null : new ProxyView(proxy.Values.Sum(), proxy),
            new LeaseSummary(context.Leases?.Backend ?? context.Config.Lease.Backend,
                leases.FirstOrDefault(l => l.Lease == "coordinator")?.Holder, leases.FirstOrDefault(l => l.Lease == "primary")?.Holder, error),
            state.Failover?.Id, state.Switchover?.Id);
    }

    private static async Task<IResult> StatusAsync(ApiContext context, CancellationToken cancellationToken) => Json(await StatusViewAsync(context, cancellationToken));

    /// <summary>The coordinator and primary leases as the backend holds them; an error text instead when it cannot be read.</summary>
    private static async Task<(IReadOnlyList<LeaseView> Leases, string? Error)> ReadLeasesAsync(ApiContext context, CancellationToken cancellationToken)
    {
        if (context.Leases is not { } store) return ([], "this process has no lease store");
        var cluster = context.Config.Cluster;
        var now = DateTimeOffset.UtcNow;
        try
        {
            var leases = new List<LeaseView>();
            foreach (var (name, key) in new[] { ("coordinator", LeaseKeys.Leader(cluster)), ("primary", LeaseKeys.Primary(cluster)) })
            {
                var holder = await store.ReadAsync(key, cancellationToken);
                leases.Add(new LeaseView(name, key, holder?.Holder, holder?.Token, holder?.ExpiresAt,
                    holder?.ExpiresAt is { } expires ? Math.Round(Math.Max(0, (expires - now).TotalSeconds), 3) : null));
            }
            return (leases, null);
        }
        catch (Exception e) when (e is LeaseStoreUnavailableException or NpgsqlException or HttpRequestException or TimeoutException or IOException)
        {
            return ([], $"the {store.Backend} lease store cannot be read: {e.GetBaseException().Message}");
        }
    }

    private static async Task<IResult> LeaseAsync(ApiContext context, HttpContext http)
    {
        var (leases, error) = await ReadLeasesAsync(context, http.RequestAborted);
        if (error is not null) return ApiProblems.Unavailable("the lease store cannot be read", $"{error}; check the lease section of pgha.yaml, or ask another node");
        var state = await OptionalStateAsync(context, http.RequestAborted);
        return Json(new
        {
            backend = context.Leases!.Backend,
            ttl_seconds = context.Config.Lease.Ttl.TotalSeconds,
            leases,
            log = new { coordinator = state?.Coordinator, coordinator_token = state?.CoordinatorToken, highest_fencing_token = state?.HighestFencingToken, primary = state?.Primary, primary_term = state?.PrimaryTerm },
        });
    }

    private static async Task<(ClusterState State, IReadOnlyList<NodeDetail> Nodes)> NodesAsync(ApiContext context, CancellationToken cancellationToken)
    {
        var state = await context.Witness.StateAsync(context.Config.Cluster, cancellationToken);
        IReadOnlyList<StandbyReplication>? replication = null;
        if (state.Primary is { } primary && state.Nodes.TryGetValue(primary, out var node))
        {
            try { replication = await PrimaryReplication.ReadAsync(node.Host, node.Port, context.Config.SuperuserPassword, cancellationToken); }
            catch (OperatorError) { /* lag in seconds is unknown; the rest still answers */ }
        }
        var recorded = await context.Witness.PrimaryPositionAsync(context.Config.Cluster, cancellationToken);
        var nodes = ClusterViews.Nodes(state, context.Heartbeats(), DateTimeOffset.UtcNow, Freshness(context), replication,
            context.Proxy?.Server.Counters.OpenConnections, recorded?.Node == state.Primary ? recorded?.Lsn : null);
        return (state, nodes);
    }

    private static async Task<IResult> ReplicationAsync(ApiContext context, HttpContext http)
    {
        var state = await context.Witness.StateAsync(context.Config.Cluster, http.RequestAborted);
        if (state.Primary is not { } primary || !state.Nodes.TryGetValue(primary, out var node))
            return ApiProblems.Unavailable("the cluster has no primary", $"cluster {state.Cluster} names no primary now (failover {state.Failover?.Id ?? "none"} in progress?); try again, or see GET /api/v1/status");
        IReadOnlyList<StandbyReplication> standbys;
        try
        {
            standbys = await PrimaryReplication.ReadAsync(node.Host, node.Port, context.Config.SuperuserPassword, http.RequestAborted);
        }
        catch (OperatorError e)
        {
            return ApiProblems.Unavailable($"the primary {primary} cannot be asked", $"{e.Message}; is its PostgreSQL up? see GET /api/v1/nodes/{primary}");
        }
        return Json(new
        {
            cluster = state.Cluster,
            primary,
            timeline = state.Timeline,
            synchronous = new
            {
                mode = state.SynchronousMode,
                node_count = state.SynchronousNodeCount,
                standbys = state.SynchronousStandbys,
                applied = state.SynchronousApplied is { } applied ? applied.Value : null,
            },
            standbys,
        });
    }

    private static async Task<IResult> ClusterStateAsync(ApiContext context, HttpContext http)
    {
        var query = http.Request.Query;
        var at = ReadQuery.Time("at", query["at"], DateTimeOffset.UtcNow);
        var version = ReadQuery.Integer("version", query["version"], 1, long.MaxValue);
        if (at is not null && version is not null) throw new BadParameter("version", "give at (a time) or version (a stream version), not both");
        ClusterState state;
        RoutingFacts routing;
        if (at is null && version is null)
        {
            state = await context.Witness.StateAsync(context.Config.Cluster, http.RequestAborted);
            routing = await context.Witness.RoutingAsync(context.Config.Cluster, http.RequestAborted);
        }
        else
        {
            try
            {
                (state, routing) = await context.Witness.StateAtAsync(context.Config.Cluster, at, version, http.RequestAborted);
            }
            catch (HistoryRangeError e)
            {
                throw new BadParameter(at is null ? "version" : "at", e.Message + "; pick a point inside the cluster's history (see GET /api/v1/events)");
            }
        }
        return Json(new ClusterStateView(state.Cluster, state.Version, at, state.LastChangeAt, state.BootstrappedAt, state.Term, state.Primary, state.PrimaryTerm,
            state.Timeline, state.PrimaryLsn, state.Coordinator, state.CoordinatorToken, state.Paused, state.PausedReason, state.PausedBy,
            state.SynchronousMode, state.SynchronousNodeCount, state.SynchronousStandbys, state.Failover, state.Switchover,
            [.. state.PendingDirectives.Values], state.Parameters, state.PendingRestart, [.. state.Nodes.Values],
            // The stored facts with this node's own proxy.max_replica_lag applied.
            RoutingTable.From(routing, context.Config.Proxy.MaxReplicaLag)));
    }

    /// <summary>Checks a <c>node</c> filter: a member now, or one the history mentions.</summary>
    private static async Task<string?> NodeFilterAsync(ApiContext context, ClusterState state, string? node, CancellationToken cancellationToken)
    {
        if (node is null || state.Nodes.ContainsKey(node) || await context.Witness.EverMentionedAsync(state.Cluster, node, cancellationToken)) return node;
        throw new BadParameter("node", $"node='{node}' is no member of cluster {state.Cluster} and its history never names it (members: {string.Join(", ", state.Nodes.Keys)})");
    }

    private static async Task<IResult> EventsAsync(ApiContext context, HttpContext http)
    {
        var query = http.Request.Query;
        var now = DateTimeOffset.UtcNow;
        var since = ReadQuery.Time("since", query["since"], now);
        var until = ReadQuery.Time("until", query["until"], now);
        if (since > until) throw new BadParameter("since", $"since ({since:O}) is after until ({until:O}); swap them");
        var types = ReadQuery.List(query["type"]);
        if (types?.FirstOrDefault(t => EventTypes.TypeOf(t) is null) is { } unknown)
            throw new BadParameter("type", $"type='{unknown}' is not an event type; use one or more (comma-separated) of {string.Join(", ", EventTypes.Names.Order(StringComparer.Ordinal))}");
        var limit = (int)(ReadQuery.Integer("limit", query["limit"], 1, WitnessStore.MaxPageSize) ?? DefaultEventLimit);
        var after = ReadQuery.Integer("after_version", query["after_version"], 0, long.MaxValue);
        var state = await context.Witness.StateAsync(context.Config.Cluster, http.RequestAborted);
        var node = await NodeFilterAsync(context, state, query["node"], http.RequestAborted);
        var page = await context.Witness.EventsAsync(state.Cluster, new HistoryFilter { Since = since, Until = until, Node = node, Types = types, AfterVersion = after, Limit = limit }, http.RequestAborted);
        return Json(new { cluster = state.Cluster, version = state.Version, events = page.Events.Select(ReadJson.Event), next_after_version = page.NextAfterVersion });
    }

    /// <summary>A directive kind as written in a query: PROMOTE, promote, apply_config or ApplyConfig.</summary>
    public static DirectiveKind? ParseKind(string? text)
    {
        if (text is null) return null;
        foreach (var kind in Enum.GetValues<DirectiveKind>())
        {
            if (string.Equals(EventLine.KindName(kind), text, StringComparison.OrdinalIgnoreCase) || string.Equals(kind.ToString(), text, StringComparison.OrdinalIgnoreCase)) return kind;
        }
        throw new BadParameter("kind", $"kind='{text}' is not a directive kind; use one of {string.Join(", ", Enum.GetValues<DirectiveKind>().Select(EventLine.KindName))}");
    }

    private static async Task<IResult> DirectivesAsync(ApiContext context, HttpContext http)
    {
        var query = http.Request.Query;
        var kind = ParseKind(query["kind"]);
        var limit = (int)(ReadQuery.Integer("limit", query["limit"], 1, WitnessStore.MaxPageSize) ?? DefaultDirectiveLimit);
        var state = await context.Witness.StateAsync(context.Config.Cluster, http.RequestAborted);
        var node = await NodeFilterAsync(context, state, query["node"], http.RequestAborted);
        var events = new List<RecordedEvent>();
        long? after = null;
        do
        {
            var page = await context.Witness.EventsAsync(state.Cluster, new HistoryFilter { Node = node, Types = DirectiveTypes, AfterVersion = after, Limit = WitnessStore.MaxPageSize }, http.RequestAborted);
            events.AddRange(page.Events);
            after = page.NextAfterVersion;
        }
        while (after is not null);
        var directives = Directives(events).Where(d => kind is null || d.Kind == EventLine.KindName(kind.Value)).TakeLast(limit).ToList();
        return Json(new { cluster = state.Cluster, pending = state.PendingDirectives.Count, directives });
    }

    /// <summary>Each DirectiveIssued with its answer (succeeded, failed, expired) when one follows; "pending" else.</summary>
    public static IReadOnlyList<DirectiveView> Directives(IEnumerable<RecordedEvent> events)
    {
        var issued = new List<(RecordedEvent At, DirectiveIssued Directive)>();
        var answers = new Dictionary<string, (RecordedEvent At, ClusterEvent Answer)>(StringComparer.Ordinal);
        foreach (var e in events.OrderBy(e => e.Version))
        {
            switch (e.Event)
            {
                case DirectiveIssued d: issued.Add((e, d)); break;
                case DirectiveSucceeded s: answers.TryAdd(s.DirectiveId, (e, s)); break;
                case DirectiveFailed f: answers.TryAdd(f.DirectiveId, (e, f)); break;
                case DirectiveExpired x: answers.TryAdd(x.DirectiveId, (e, x)); break;
            }
        }
        return [.. issued.Select(i =>
        {
            var d = i.Directive;
            var answered = answers.TryGetValue(d.DirectiveId, out var a) ? a : default;
            var (outcome, duration, detail) = answered.Answer switch
            {
                DirectiveSucceeded s => ("succeeded", (double?)s.Duration.TotalSeconds, s.Detail),
                DirectiveFailed f => ("failed", f.Duration.TotalSeconds, f.Error),
                DirectiveExpired x => ("expired", null, x.Reason),
                _ => ("pending", (double?)null, (string?)null),
            };
            return new DirectiveView(d.DirectiveId, d.Node, EventLine.KindName(d.Kind), d.Term, i.At.At, d.ExpiresAt, outcome, answered.At?.At,
                duration is { } seconds ? Math.Round(seconds, 3) : null, detail, d.CorrelationId);
        })];
    }
}
