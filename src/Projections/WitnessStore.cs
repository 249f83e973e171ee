using System.Text;
using System.Text.Json;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Marten.Exceptions;
using Marten.Services;
using Npgsql;
using NpgsqlTypes;

namespace HA.Projections;

/// <summary>
/// Work that joins an append's transaction — sending its directives through the message outbox — run
/// before the commit; what it returns runs after the commit (flushing the outbox).
/// </summary>
public delegate Task<Func<Task>?> AppendParticipant(NpgsqlTransaction transaction, IReadOnlyList<ClusterEvent> events, CancellationToken cancellationToken);

/// <summary>
/// pgha's witness store: one Marten event stream per cluster (<c>cluster/&lt;name&gt;</c>) in its own
/// schema of the witness database, several clusters side by side. Every append goes through
/// <see cref="AppendAsync"/>, which takes the expected stream version and the appender's fencing
/// token, checks each event against the current state, and in the same transaction stores the
/// projections (cluster state, routing table, node documents, periodic snapshots) and raises a
/// PostgreSQL notification that is delivered on commit.
/// </summary>
public sealed partial class WitnessStore : IAsyncDisposable
{
    public const string FencingTokenHeader = "fencing_token";
    public const string NodesHeader = "nodes";

    private readonly DocumentStore _store;
    private readonly NpgsqlDataSource _dataSource;

    private WitnessStore(DocumentStore store, NpgsqlDataSource dataSource, WitnessStoreOptions options)
    {
        _store = store;
        _dataSource = dataSource;
        Options = options;
    }

    public WitnessStoreOptions Options { get; }

    /// <summary>Raised in this process after each committed append (other processes LISTEN on <see cref="WitnessStoreOptions.NotificationChannel"/>).</summary>
    public event Action<ClusterChanged>? Changed;

    private string Schema => Options.Schema;

    /// <summary>Connects, creates or updates the schema, and returns the store.</summary>
    public static async Task<WitnessStore> OpenAsync(WitnessStoreOptions options, CancellationToken cancellationToken = default)
    {
        // Times come back from the database as UTC whatever the server's time zone.
        var connectionString = new NpgsqlConnectionStringBuilder(WitnessSessions.ConnectionString(options.ConnectionString)) { Timezone = "UTC" }.ConnectionString;
        var dataSource = NpgsqlDataSource.Create(connectionString);
        var store = DocumentStore.For(opts =>
        {
            opts.Connection(dataSource);
            opts.DatabaseSchemaName = options.Schema;
            opts.Events.DatabaseSchemaName = options.Schema;
            opts.Events.StreamIdentity = StreamIdentity.AsString;
            // Rich appends keep the timestamp each event is given: the database's clock, read in the
            // append's transaction (DatabaseClockAsync). Quick appends would stamp the transaction's
            // start, read before the stream lock is taken.
            opts.Events.AppendMode = EventAppendMode.Rich;
            opts.Events.UseExclusiveLockOnConcurrentAppends = true;
            opts.Events.MetadataConfig.HeadersEnabled = true;
            opts.Events.MetadataConfig.CorrelationIdEnabled = true;
            opts.Events.AddEventTypes(EventTypes.All);
            opts.UseSystemTextJsonForSerialization(Weasel.Core.EnumStorage.AsString, Weasel.Core.Casing.CamelCase);
            opts.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            opts.Schema.For<ClusterState>().Identity(s => s.Id);
            opts.Schema.For<StreamHead>().Identity(h => h.Id);
            opts.Projections.Add(new StreamHeadProjection(), ProjectionLifecycle.Inline);
            opts.Schema.For<RoutingDocument>().Identity(r => r.Id);
            opts.Schema.For<PrimaryPositionDocument>().Identity(p => p.Id);
            opts.Schema.For<NodeDocument>().Identity(n => n.Id).Index(n => n.Cluster);
            opts.Schema.For<ClusterSnapshot>().Identity(s => s.Id).Index(s => s.Cluster).Index(s => s.Version).Index(s => s.At);
        });
        try
        {
            // Every agent of a cluster opens the store at start: one at a time creates or updates the schema.
            await using var schemaLock = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext(@name))", schemaLock))
            {
                take.Parameters.AddWithValue("name", "pgha-schema-" + options.Schema);
                await take.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or MartenException)
        {
            store.Dispose();
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw new HA.Core.Errors.OperatorError($"cannot open the witness store (schema {options.Schema}): {e.GetBaseException().Message}; check witness.connection_string", e);
        }
        return new WitnessStore(store, dataSource, options);
    }

    /// <summary>
    /// Appends <paramref name="events"/> to <paramref name="cluster"/>'s stream if it is at
    /// <paramref name="expectedVersion"/> (0 for a new cluster, whose first event must be
    /// ClusterBootstrapped). Each event is checked against the state it would follow; one refused event
    /// refuses the whole batch. A lost race throws <see cref="WitnessConcurrencyException"/>; nothing is
    /// ever half-appended.
    /// </summary>
    /// <param name="participant">work that joins this append's transaction (sending the directives through an outbox): run before the commit; what it returns runs after it</param>
    public async Task<ClusterState> AppendAsync(string cluster, long expectedVersion, IReadOnlyList<ClusterEvent> events, long? fencingToken = null, CancellationToken cancellationToken = default, AppendParticipant? participant = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(events.Count);
        var key = ClusterState.StreamKey(cluster);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var session = _store.LightweightSession(SessionOptions.ForTransaction(transaction, false));

        // Marten's exclusive fetch: the stream stays locked until commit, so appenders of one stream
        // take turns, and the version read here is the one this append follows.
        var stream = await session.Events.FetchForExclusiveWriting<StreamHead>(key, cancellationToken).ConfigureAwait(false);
        var current = stream.CurrentVersion ?? 0;
        if (current != expectedVersion) throw new WitnessConcurrencyException(cluster, expectedVersion, current);
        var state = current == 0 ? new ClusterState { Cluster = cluster, Id = key } : await session.LoadAsync<ClusterState>(key, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"cluster {cluster} has events but no projected state; rebuild its projections");
        var now = await DatabaseClockAsync(connection, transaction, state.LastChangeAt, cancellationToken).ConfigureAwait(false);
        var before = state.Version;
        var built = new List<IEvent>(events.Count);
        foreach (var e in events)
        {
            if (e is ClusterBootstrapped b && b.Cluster != cluster)
                throw new EventRejectedError(cluster, nameof(ClusterBootstrapped), $"it names cluster {b.Cluster}");
            var problem = state.Check(e, fencingToken);
            if (problem is not null) throw new EventRejectedError(cluster, e.GetType().Name, problem);
            state.Apply(e, new EventStamp(state.Version + 1, now, fencingToken));
            built.Add(Build(session, e, fencingToken, now));
        }
        session.CorrelationId = events[0].CorrelationId;
        if (current == 0) session.Events.StartStream<StreamHead>(key, built);
        else stream.AppendMany(built);
        StoreProjections(session, state, before);

        try
        {
            await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            await NotifyAsync(connection, transaction, state, cancellationToken).ConfigureAwait(false);
            var afterCommit = participant is null ? null : await participant(transaction, events, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            if (afterCommit is not null) await afterCommit().ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConcurrencyException or Marten.Exceptions.ExistingStreamIdCollisionException or JasperFx.Events.ExistingStreamIdCollisionException || e.GetBaseException() is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new WitnessConcurrencyException(cluster, expectedVersion, await VersionAsync(cluster, cancellationToken).ConfigureAwait(false));
        }
        Changed?.Invoke(new ClusterChanged(cluster, state.Version, state.Term, state.Primary));
        return state;
    }

    /// <summary>
    /// Appends one operator's or agent's event at whatever version the stream is at (retrying a lost
    /// race): for events that need no coordinator token. A refusal names the reason (<see cref="EventRejectedError"/>).
    /// </summary>
    public async Task<ClusterState> AppendCheckedAsync(string cluster, ClusterEvent e, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var version = await VersionAsync(cluster, cancellationToken).ConfigureAwait(false);
            if (version == 0) throw new UnknownClusterError(cluster, await ClustersAsync(cancellationToken).ConfigureAwait(false));
            try
            {
                return await AppendAsync(cluster, version, [e], cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (WitnessConcurrencyException) when (attempt < 20)
            {
                // Another appender won the race: check again against the new state.
            }
        }
    }

    /// <summary>Wraps an event with its metadata: the fencing token, the nodes it concerns (history's node filter), its correlation id and its time.</summary>
    private static IEvent Build(IDocumentSession session, ClusterEvent e, long? fencingToken, DateTimeOffset at)
    {
        var built = session.Events.BuildEvent(e);
        built.Timestamp = at;
        if (fencingToken is { } token) built.SetHeader(FencingTokenHeader, token);
        built.SetHeader(NodesHeader, string.Join(',', EventTypes.NodesOf(e)));
        built.CorrelationId = e.CorrelationId;
        return built;
    }

    /// <summary>Stores everything projected from <paramref name="state"/>; a snapshot when the batch crossed a snapshot boundary.</summary>
    private void StoreProjections(IDocumentSession session, ClusterState state, long versionBefore)
    {
        session.Store(state);
        session.Store(new RoutingDocument { Id = state.Cluster, Facts = RoutingFacts.From(state) });
        foreach (var node in state.Nodes.Values.Where(n => n.LastChangeVersion > versionBefore || versionBefore == 0))
            session.Store(new NodeDocument { Id = NodeDocument.IdFor(state.Cluster, node.Name), Cluster = state.Cluster, ClusterVersion = state.Version, Node = node });
        if (state.Version / Options.SnapshotEvery > versionBefore / Options.SnapshotEvery)
            session.Store(new ClusterSnapshot { Id = ClusterSnapshot.IdFor(state.Cluster, state.Version), Cluster = state.Cluster, Version = state.Version, At = state.LastChangeAt ?? default, State = state });
    }

    private async Task NotifyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClusterState state, CancellationToken cancellationToken)
    {
        // Inside the transaction: PostgreSQL delivers it on commit, never for a rolled-back append.
        await using var notify = new NpgsqlCommand("SELECT pg_notify(@channel, @payload)", connection, transaction);
        notify.Parameters.AddWithValue("channel", Options.NotificationChannel);
        notify.Parameters.AddWithValue("payload", JsonSerializer.Serialize(new ClusterChanged(state.Cluster, state.Version, state.Term, state.Primary)));
        await notify.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The database time this append's events are stamped with: one clock for the whole history,
    /// whichever process appends. Read after the stream lock is held, so along one stream the times
    /// never decrease with the version (time travel by time relies on it); never before
    /// <paramref name="last"/>, the stream's last event, should the database's clock step back (a
    /// witness failed over to a host whose clock is behind).
    /// </summary>
    private static async Task<DateTimeOffset> DatabaseClockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset? last, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT clock_timestamp()", connection, transaction);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        var now = value is DateTime utc ? new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) : (DateTimeOffset)value!;
        return last is { } previous && previous > now ? previous : now;
    }

    /// <summary>The cluster's stream version (0 when it has no events).</summary>
    public async Task<long> VersionAsync(string cluster, CancellationToken cancellationToken = default)
    {
        await using var session = _store.QuerySession();
        var stream = await session.Events.FetchStreamStateAsync(ClusterState.StreamKey(cluster), cancellationToken).ConfigureAwait(false);
        return stream?.Version ?? 0;
    }

    /// <summary>Every cluster with a history in this store (each has its projected state).</summary>
    public async Task<IReadOnlyList<string>> ClustersAsync(CancellationToken cancellationToken = default)
    {
        await using var session = _store.QuerySession();
        var keys = await session.Query<ClusterState>().Where(s => s.Id.StartsWith("cluster/")).OrderBy(s => s.Id).Select(s => s.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        return keys.Select(k => k["cluster/".Length..]).ToList();
    }

    /// <summary>The live projected state; <see cref="UnknownClusterError"/> when the cluster has no history.</summary>
    public async Task<ClusterState> StateAsync(string cluster, CancellationToken cancellationToken = default)
    {
        await using var session = _store.QuerySession();
        return await session.LoadAsync<ClusterState>(ClusterState.StreamKey(cluster), cancellationToken).ConfigureAwait(false)
            ?? throw new UnknownClusterError(cluster, await ClustersAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Records the primary's last reported WAL position (not an event: see <see cref="PrimaryPositionDocument"/>).</summary>
    public async Task RecordPrimaryPositionAsync(string cluster, string node, string lsn, DateTimeOffset reportedAt, CancellationToken cancellationToken = default)
    {
        await using var session = _store.LightweightSession();
        session.Store(new PrimaryPositionDocument { Id = cluster, Node = node, Lsn = lsn, ReportedAt = reportedAt });
        await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The primary's last recorded WAL position, or null when none was recorded.</summary>
    public async Task<PrimaryPositionDocument?> PrimaryPositionAsync(string cluster, CancellationToken cancellationToken = default)
    {
        await using var session = _store.QuerySession();
        return await session.LoadAsync<PrimaryPositionDocument>(cluster, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The live routing facts (no limit applied: see <see cref="RoutingTable.From(RoutingFacts, long)"/>).</summary>
    public async Task<RoutingFacts> RoutingAsync(string cluster, CancellationToken cancellationToken = default)
    {
        await using var session = _store.QuerySession();
        var document = await session.LoadAsync<RoutingDocument>(cluster, cancellationToken).ConfigureAwait(false);
        return document?.Facts ?? RoutingFacts.From(await StateAsync(cluster, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>One node's projected view; errors name the cluster's members when the node is unknown.</summary>
    public async Task<NodeView> NodeAsync(string cluster, string node, CancellationToken cancellationToken = default)
    {
        await using var session = _store.QuerySession();
        var document = await session.LoadAsync<NodeDocument>(NodeDocument.IdFor(cluster, node), cancellationToken).ConfigureAwait(false);
        if (document is not null) return document.Node;
        var state = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        throw new HA.Core.Errors.OperatorError($"unknown node '{node}' in cluster {cluster} (members: {string.Join(", ", state.Nodes.Keys)})");
    }

    public async ValueTask DisposeAsync()
    {
        _store.Dispose();
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }
}
