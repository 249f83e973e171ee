using System.Globalization;
using System.Text;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using Marten;
using Npgsql;

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

        var where = new StringBuilder("stream_id = @key");
        var parameters = new List<NpgsqlParameter> { new("key", ClusterState.StreamKey(cluster)) };
        if (filter.Since is { } since) { where.Append(" AND timestamp >= @since"); parameters.Add(new NpgsqlParameter("since", since.UtcDateTime)); }
        if (filter.Until is { } until) { where.Append(" AND timestamp <= @until"); parameters.Add(new NpgsqlParameter("until", until.UtcDateTime)); }
        if (filter.AfterVersion is { } after) { where.Append(" AND version > @after"); parameters.Add(new NpgsqlParameter("after", after)); }
        if (filter.Types is { Count: > 0 } types) { where.Append(" AND type = ANY(@types)"); parameters.Add(new NpgsqlParameter("types", types.ToArray())); }
        if (filter.CorrelationId is { } correlation) { where.Append(" AND correlation_id = @correlation"); parameters.Add(new NpgsqlParameter("correlation", correlation)); }
        if (filter.Node is { } node)
        {
            if (!state.Nodes.ContainsKey(node) && !await EverMentionedAsync(cluster, node, cancellationToken).ConfigureAwait(false))
                throw new OperatorError($"unknown node '{node}' in cluster {cluster} (members: {string.Join(", ", state.Nodes.Keys)})");
            where.Append(" AND (',' || (headers->>'nodes') || ',') LIKE '%,' || @node || ',%'");
            parameters.Add(new NpgsqlParameter("node", node));
        }
        var events = await ReadEventsAsync(cluster, where.ToString(), parameters, filter.Limit + 1, cancellationToken).ConfigureAwait(false);
        return events.Count > filter.Limit
            ? new HistoryPage(events.Take(filter.Limit).ToList(), events[filter.Limit - 1].Version)
            : new HistoryPage(events, null);
    }

    /// <summary>
    /// The cluster state and routing table as they were at <paramref name="at"/> (the last event at or
    /// before it) or right after stream version <paramref name="version"/>: from the nearest snapshot,
    /// replaying the events after it.
    /// </summary>
    public async Task<(ClusterState State, RoutingTable Routing)> StateAtAsync(string cluster, DateTimeOffset? at = null, long? version = null, CancellationToken cancellationToken = default)
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
            var from = await bounds.Query<ClusterSnapshot>().Where(s => s.Cluster == cluster && s.At <= at!.Value)
                .OrderByDescending(s => s.Version).Select(s => s.Version).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            var beyond = await bounds.Query<ClusterSnapshot>().Where(s => s.Cluster == cluster && s.At > at!.Value)
                .OrderBy(s => s.Version).Select(s => s.Version).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            await using var command = _dataSource.CreateCommand(
                $"SELECT max(version) FROM {Schema}.mt_events WHERE stream_id = @key AND version >= @from AND version <= @to AND timestamp <= @at");
            command.Parameters.AddWithValue("key", ClusterState.StreamKey(cluster));
            command.Parameters.AddWithValue("from", Math.Max(from, 1));
            command.Parameters.AddWithValue("to", beyond == 0 ? live.Version : beyond);
            command.Parameters.AddWithValue("at", at!.Value.UtcDateTime);
            target = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long found ? found : 0;
            if (target == 0) throw new HistoryRangeError($"cluster {cluster} did not exist at {at:O}: its history starts at {live.BootstrappedAt:O}");
        }

        if (target == live.Version) return (live, RoutingTable.From(live, Options.MaxReplicaLagBytes));
        await using var session = _store.QuerySession();
        var snapshot = await session.Query<ClusterSnapshot>()
            .Where(s => s.Cluster == cluster && s.Version <= target)
            .OrderByDescending(s => s.Version)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var state = snapshot?.State ?? new ClusterState { Cluster = cluster, Id = ClusterState.StreamKey(cluster) };
        await foreach (var e in StreamAsync(cluster, state.Version, target, cancellationToken).ConfigureAwait(false)) state.Apply(e.Event, e.Stamp);
        return (state, RoutingTable.From(state, Options.MaxReplicaLagBytes));
    }

    /// <summary>The story of one failover: trigger, candidates and reasons, directives with outcomes and durations.</summary>
    public async Task<FailoverStory> ExplainFailoverAsync(string cluster, string failoverId, CancellationToken cancellationToken = default)
    {
        await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        var started = await ReadEventsAsync(cluster, "stream_id = @key AND type = 'failover_started' AND data->>'failoverId' = @id",
            [new("key", ClusterState.StreamKey(cluster)), new("id", failoverId)], 1, cancellationToken).ConfigureAwait(false);
        if (started.Count == 0)
        {
            var recent = await ReadEventsAsync(cluster, "stream_id = @key AND type = 'failover_started'", [new("key", ClusterState.StreamKey(cluster))], 1000, cancellationToken).ConfigureAwait(false);
            throw new OperatorError($"cluster {cluster} has no failover '{failoverId}'" + (recent.Count == 0 ? " (it never failed over)" :
                $" (its failovers: {string.Join(", ", recent.TakeLast(10).Select(r => ((FailoverStarted)r.Event).FailoverId))})"));
        }
        var operation = await ReadEventsAsync(cluster, "stream_id = @key AND correlation_id = @correlation",
            [new("key", ClusterState.StreamKey(cluster)), new("correlation", started[0].Event.CorrelationId)], int.MaxValue, cancellationToken).ConfigureAwait(false);
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
        StoreProjections(session, state, versionBefore: 0);
        await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return state;
    }

    private ClusterState Clone(ClusterState state) =>
        (ClusterState)_store.Options.Serializer().FromJson(typeof(ClusterState), new MemoryStream(Encoding.UTF8.GetBytes(_store.Options.Serializer().ToJson(state))));

    /// <summary>Events with version in (<paramref name="afterVersion"/>, <paramref name="toVersion"/>], in pages.</summary>
    private async IAsyncEnumerable<RecordedEvent> StreamAsync(string cluster, long afterVersion, long toVersion, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        const int page = 5000;
        for (var from = afterVersion; from < toVersion;)
        {
            var events = await ReadEventsAsync(cluster, "stream_id = @key AND version > @from AND version <= @to",
                [new("key", ClusterState.StreamKey(cluster)), new("from", from), new("to", Math.Min(toVersion, from + page))], page, cancellationToken).ConfigureAwait(false);
            foreach (var e in events) yield return e;
            if (events.Count == 0) yield break;
            from = events[^1].Version;
        }
    }

    /// <summary>Whether any event of <paramref name="cluster"/> ever concerned <paramref name="node"/> (a member now or before).</summary>
    public async Task<bool> EverMentionedAsync(string cluster, string node, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(
            $"SELECT EXISTS (SELECT 1 FROM {Schema}.mt_events WHERE stream_id = @key AND (',' || (headers->>'nodes') || ',') LIKE '%,' || @node || ',%')");
        command.Parameters.AddWithValue("key", ClusterState.StreamKey(cluster));
        command.Parameters.AddWithValue("node", node);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    private async Task<List<RecordedEvent>> ReadEventsAsync(string cluster, string where, List<NpgsqlParameter> parameters, int limit, CancellationToken cancellationToken)
    {
        var sql = $"SELECT version, seq_id, timestamp, headers->>'{FencingTokenHeader}', type, data::text FROM {Schema}.mt_events WHERE {where} ORDER BY version"
            + (limit == int.MaxValue ? "" : $" LIMIT {limit.ToString(CultureInfo.InvariantCulture)}");
        await using var command = _dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters.ToArray());
        var serializer = _store.Options.Serializer();
        var events = new List<RecordedEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var typeName = reader.GetString(4);
            var type = EventTypes.TypeOf(typeName) ?? throw new InvalidOperationException($"event type '{typeName}' at version {reader.GetInt64(0)} of cluster {cluster} is unknown to this pgha version");
            var data = (ClusterEvent)serializer.FromJson(type, new MemoryStream(Encoding.UTF8.GetBytes(reader.GetString(5))));
            long? token = reader.IsDBNull(3) ? null : long.Parse(reader.GetString(3), CultureInfo.InvariantCulture);
            events.Add(new RecordedEvent(cluster, reader.GetInt64(0), reader.GetInt64(1), ToUtc(reader.GetDateTime(2)), token, data));
        }
        return events;
    }

    private static DateTimeOffset ToUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
