using System.Globalization;
using System.Text;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using Marten;
using JasperFx.Events;

namespace HA.Projections;

/// <summary>What to select from a cluster's history; every filter is optional.</summary>
public sealed record HistoryFilter
{
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
    public string? Node { get; init; }
    public IReadOnlyList<string>? Types { get; init; }
    public string? CorrelationId { get; init; }

    /// <summary>Paging: only events after this stream version (the previous page's <see cref="HistoryPage.NextAfterVersion"/>).</summary>
    public long? AfterVersion { get; init; }
    public int Limit { get; init; } = 100;
}

/// <summary>A page of history, oldest first; <see cref="NextAfterVersion"/> is null on the last page.</summary>
public sealed record HistoryPage(IReadOnlyList<RecordedEvent> Events, long? NextAfterVersion);

/// <summary>History, time travel, explanation and rebuilds: everything that reads the raw events.</summary>
public sealed partial class WitnessStore
{
    public const int MaxPageSize = 1000;

    /// <summary>Events of one cluster matching <paramref name="filter"/>, in stream order, one page at a time.</summary>
    public async Task<HistoryPage> EventsAsync(string cluster, HistoryFilter filter, CancellationToken cancellationToken = default)
    {
        var state = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        if (filter.Limit is < 1 or > MaxPageSize) throw new OperatorError($"limit must be from 1 to {MaxPageSize}, got {filter.Limit}");
        if (filter.Types?.FirstOrDefault(t => EventTypes.TypeOf(t) is null) is { } unknownType)
            throw new OperatorError($"unknown event type '{unknownType}' (known: {string.Join(", ", EventTypes.Names.Order())})");
        if (filter.Since > filter.Until) throw new OperatorError($"since ({filter.Since:o}) is after until ({filter.Until:o})");

        if (filter.Node is { } node && !state.Nodes.ContainsKey(node) && !await EverMentionedAsync(cluster, node, cancellationToken).ConfigureAwait(false))
            throw new OperatorError($"unknown node '{node}' in cluster {cluster} (members: {string.Join(", ", state.Nodes.Keys)})");

        var key = ClusterState.StreamKey(cluster);
        var types = filter.Types is { Count: > 0 } t ? t.ToArray() : null;
        var events = new List<RecordedEvent>();
        // Marten's event query filters on its own columns; the node filter (which nodes an event
        // concerns) is applied here, page by page, until the page is full.
        for (var after = filter.AfterVersion ?? 0; events.Count <= filter.Limit;)
        {
            await using var session = _store.QuerySession();
            var query = session.Events.QueryAllRawEvents().Where(e => e.StreamKey == key && e.Version > after);
            if (filter.Since is { } since) query = query.Where(e => e.Timestamp >= since);
            if (filter.Until is { } until) query = query.Where(e => e.Timestamp <= until);
            if (types is not null) query = query.Where(e => e.EventTypeName.IsOneOf(types));
            if (filter.CorrelationId is { } correlation) query = query.Where(e => e.CorrelationId == correlation);
            var batch = await query.OrderBy(e => e.Version).Take(filter.Node is null ? filter.Limit + 1 : ReadPage).ToListAsync(cancellationToken).ConfigureAwait(false);
            events.AddRange(batch.Select(e => Recorded(cluster, e)).Where(e => filter.Node is null || EventTypes.NodesOf(e.Event).Contains(filter.Node)));
            if (batch.Count < (filter.Node is null ? filter.Limit + 1 : ReadPage)) break;
            after = batch[^1].Version;
        }
        return events.Count > filter.Limit
            ? new HistoryPage(events.Take(filter.Limit).ToList(), events[filter.Limit - 1].Version)
            : new HistoryPage(events, null);
    }

    /// <summary>
    /// The cluster state and routing facts as they were at <paramref name="at"/> (the last event at or
    /// before it) or right after stream version <paramref name="version"/>: from the nearest snapshot,
    /// replaying the events after it.
    /// </summary>
    public async Task<(ClusterState State, RoutingFacts Routing)> StateAtAsync(string cluster, DateTimeOffset? at = null, long? version = null, CancellationToken cancellationToken = default)
    {
        if (at is null == version is null) throw new OperatorError("give either a time (at) or a stream version, not both and not neither");
        var live = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        long target;
        if (version is { } v)
        {
            if (v < 1 || v > live.Version)
                throw new HistoryRangeError($"cluster {cluster} has versions 1 to {live.Version}; there is no version {v}");
            target = v;
        }
        else
        {
            if (at < live.BootstrappedAt)
                throw new HistoryRangeError($"cluster {cluster} did not exist at {at:O}: its history starts at {live.BootstrappedAt:O}");
            // Times never decrease along a stream, so the snapshots around T bound the search to the
            // events between them: a short index range scan instead of a scan of the whole stream.
            await using var bounds = _store.QuerySession();
            var first = await bounds.Query<ClusterSnapshot>().Where(s => s.Cluster == cluster && s.At <= at!.Value)
                .OrderByDescending(s => s.Version).Select(s => s.Version).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            var beyond = await bounds.Query<ClusterSnapshot>().Where(s => s.Cluster == cluster && s.At > at!.Value)
                .OrderBy(s => s.Version).Select(s => s.Version).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            var to = beyond == 0 ? live.Version : beyond;
            var from = Math.Max(first, 1);
            var key = ClusterState.StreamKey(cluster);
            var last = await bounds.Events.QueryAllRawEvents()
                .Where(e => e.StreamKey == key && e.Version >= from && e.Version <= to && e.Timestamp <= at!.Value)
                .OrderByDescending(e => e.Version).Take(1).ToListAsync(cancellationToken).ConfigureAwait(false);
            target = last.Count == 1 ? last[0].Version : 0;
            if (target == 0) throw new HistoryRangeError($"cluster {cluster} did not exist at {at:O}: its history starts at {live.BootstrappedAt:O}");
        }

        if (target == live.Version) return (live, RoutingFacts.From(live));
        await using var session = _store.QuerySession();
        var snapshot = await session.Query<ClusterSnapshot>()
            .Where(s => s.Cluster == cluster && s.Version <= target)
            .OrderByDescending(s => s.Version)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var state = snapshot?.State ?? new ClusterState { Cluster = cluster, Id = ClusterState.StreamKey(cluster) };
        await foreach (var e in StreamAsync(cluster, state.Version, target, cancellationToken).ConfigureAwait(false)) state.Apply(e.Event, e.Stamp);
        return (state, RoutingFacts.From(state));
    }

    /// <summary>The story of one failover: trigger, candidates and reasons, directives with outcomes and durations.</summary>
    public async Task<FailoverStory> ExplainFailoverAsync(string cluster, string failoverId, CancellationToken cancellationToken = default)
    {
        await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        var key = ClusterState.StreamKey(cluster);
        await using var session = _store.QuerySession();
        var failovers = (await session.Events.QueryAllRawEvents().Where(e => e.StreamKey == key && e.EventTypeName == FailoverStartedType)
            .OrderBy(e => e.Version).ToListAsync(cancellationToken).ConfigureAwait(false)).Select(e => Recorded(cluster, e)).ToList();
        var started = failovers.Where(e => ((FailoverStarted)e.Event).FailoverId == failoverId).Take(1).ToList();
        if (started.Count == 0)
        {
            throw new OperatorError($"cluster {cluster} has no failover '{failoverId}'" + (failovers.Count == 0 ? " (it never failed over)" :
                $" (its failovers: {string.Join(", ", failovers.TakeLast(10).Select(r => ((FailoverStarted)r.Event).FailoverId))})"));
        }
        var correlation = started[0].Event.CorrelationId;
        var operation = (await session.Events.QueryAllRawEvents().Where(e => e.StreamKey == key && e.CorrelationId == correlation)
            .OrderBy(e => e.Version).ToListAsync(cancellationToken).ConfigureAwait(false)).Select(e => Recorded(cluster, e)).ToList();
        return FailoverStory.From(failoverId, operation)!;
    }

    /// <summary>Replays every raw event of the cluster from nothing: what the projections must equal.</summary>
    public async Task<ClusterState> ReplayAsync(string cluster, CancellationToken cancellationToken = default)
    {
        var live = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        var state = new ClusterState { Cluster = cluster, Id = ClusterState.StreamKey(cluster) };
        await foreach (var e in StreamAsync(cluster, 0, live.Version, cancellationToken).ConfigureAwait(false)) state.Apply(e.Event, e.Stamp);
        return state;
    }

    /// <summary>Throws the projected documents away and writes them again from the raw events.</summary>
    public async Task<ClusterState> RebuildProjectionsAsync(string cluster, CancellationToken cancellationToken = default)
    {
        var live = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        await using var session = _store.LightweightSession();
        session.DeleteWhere<NodeDocument>(n => n.Cluster == cluster);
        session.DeleteWhere<ClusterSnapshot>(s => s.Cluster == cluster);
        var state = new ClusterState { Cluster = cluster, Id = ClusterState.StreamKey(cluster) };
        await foreach (var e in StreamAsync(cluster, 0, live.Version, cancellationToken).ConfigureAwait(false))
        {
            var before = state.Version;
            state.Apply(e.Event, e.Stamp);
            if (state.Version / Options.SnapshotEvery > before / Options.SnapshotEvery)
                session.Store(new ClusterSnapshot { Id = ClusterSnapshot.IdFor(cluster, state.Version), Cluster = cluster, Version = state.Version, At = e.At, State = Clone(state) });
        }
        session.Store(state);
        StoreProjections(session, state, versionBefore: 0);
        await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return state;
    }

    private ClusterState Clone(ClusterState state) =>
        (ClusterState)_store.Options.Serializer().FromJson(typeof(ClusterState), new MemoryStream(Encoding.UTF8.GetBytes(_store.Options.Serializer().ToJson(state))));

    private const int ReadPage = 5000;
    private static readonly string FailoverStartedType = EventTypes.NameOf(typeof(FailoverStarted));

    /// <summary>Events with version in (<paramref name="afterVersion"/>, <paramref name="toVersion"/>], in pages.</summary>
    private async IAsyncEnumerable<RecordedEvent> StreamAsync(string cluster, long afterVersion, long toVersion, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in RawEventsAsync(cluster, afterVersion, toVersion, cancellationToken).ConfigureAwait(false)) yield return Recorded(cluster, e);
    }

    /// <summary>Marten's events with version in (<paramref name="afterVersion"/>, <paramref name="toVersion"/>], in stream order, read a page at a time.</summary>
    private async IAsyncEnumerable<IEvent> RawEventsAsync(string cluster, long afterVersion, long toVersion, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var key = ClusterState.StreamKey(cluster);
        for (var from = afterVersion; from < toVersion;)
        {
            var to = Math.Min(toVersion, from + ReadPage);
            IReadOnlyList<IEvent> events;
            await using (var session = _store.QuerySession())
                events = await session.Events.FetchStreamAsync(key, version: to, fromVersion: from + 1, token: cancellationToken).ConfigureAwait(false);
            foreach (var e in events) yield return e;
            if (events.Count == 0) yield break;
            from = events[^1].Version;
        }
    }

    /// <summary>Whether any event of <paramref name="cluster"/> ever concerned <paramref name="node"/> (a member now or before).</summary>
    public async Task<bool> EverMentionedAsync(string cluster, string node, CancellationToken cancellationToken = default)
    {
        var live = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        await foreach (var e in RawEventsAsync(cluster, 0, live.Version, cancellationToken).ConfigureAwait(false))
            if (EventTypes.NodesOf((ClusterEvent)e.Data).Contains(node)) return true;
        return false;
    }

    private static RecordedEvent Recorded(string cluster, IEvent e) =>
        new(cluster, e.Version, e.Sequence, e.Timestamp.ToUniversalTime(), EventHeaders.FencingToken(e), (ClusterEvent)e.Data);
}
