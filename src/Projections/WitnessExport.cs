using System.Text;
using System.Text.Json;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.State;
using JasperFx.Events;
using Marten;
using Marten.Services;

namespace HA.Projections;

/// <summary>Export and import of a cluster's stream as JSON lines: for audits, and to restore a witness.</summary>
public sealed partial class WitnessStore
{
    /// <summary>
    /// Writes every event of <paramref name="cluster"/>, oldest first, one JSON object per line:
    /// <c>{"cluster","version","at","type","fencing_token","correlation_id","event"}</c>.
    /// </summary>
    public async Task<long> ExportAsync(string cluster, Stream output, CancellationToken cancellationToken = default)
    {
        var live = await StateAsync(cluster, cancellationToken).ConfigureAwait(false);
        var serializer = _store.Options.Serializer();
        long count = 0;
        var buffer = new MemoryStream();
        await foreach (var e in RawEventsAsync(cluster, 0, live.Version, cancellationToken).ConfigureAwait(false))
        {
            buffer.SetLength(0);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("cluster", cluster);
                json.WriteNumber("version", e.Version);
                json.WriteString("at", e.Timestamp.ToUniversalTime());
                if (EventHeaders.FencingToken(e) is { } token) json.WriteNumber("fencing_token", token);
                json.WriteString("type", e.EventTypeName);
                if (e.CorrelationId is { } correlation) json.WriteString("correlation_id", correlation);
                json.WritePropertyName("event");
                json.WriteRawValue(serializer.ToJson(e.Data));
                json.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
            buffer.Position = 0;
            await buffer.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            count++;
        }
        if (count != live.Version) throw new InvalidOperationException($"exported {count} events of cluster {cluster}, but its state is at version {live.Version}");
        return count;
    }

    /// <summary>
    /// Reads an export and appends it as the whole history of a cluster this store does not have yet,
    /// keeping versions, times, fencing tokens and correlation ids; every event is checked as on a
    /// normal append. All or nothing: a bad line names its number and appends nothing.
    /// </summary>
    public async Task<(string Cluster, long Events)> ImportAsync(Stream input, CancellationToken cancellationToken = default)
    {
        var serializer = _store.Options.Serializer();
        var lines = new List<(long Version, DateTimeOffset At, long? Token, string? Correlation, ClusterEvent Event)>();
        string? cluster = null;
        using var text = new StreamReader(input, Encoding.UTF8, leaveOpen: true);
        var number = 0;
        while (await text.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                var lineCluster = root.GetProperty("cluster").GetString()!;
                cluster ??= lineCluster;
                if (lineCluster != cluster) throw new FormatException($"cluster is {lineCluster}, but the file started with {cluster}");
                var version = root.GetProperty("version").GetInt64();
                if (version != lines.Count + 1) throw new FormatException($"version {version} where {lines.Count + 1} was expected (versions must run from 1 without gaps)");
                var typeName = root.GetProperty("type").GetString()!;
                var type = EventTypes.TypeOf(typeName) ?? throw new FormatException($"unknown event type '{typeName}'");
                var data = (ClusterEvent)serializer.FromJson(type, new MemoryStream(Encoding.UTF8.GetBytes(root.GetProperty("event").GetRawText())));
                long? token = root.TryGetProperty("fencing_token", out var t) ? t.GetInt64() : null;
                string? correlation = root.TryGetProperty("correlation_id", out var c) ? c.GetString() : null;
                var at = root.GetProperty("at").GetDateTimeOffset();
                lines.Add((version, at, token, correlation, data));
            }
            catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                throw new OperatorError($"import line {number}: {e.Message}");
            }
        }
        if (cluster is null) throw new OperatorError("the import holds no events");
        var key = ClusterState.StreamKey(cluster);

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var session = _store.LightweightSession(SessionOptions.ForTransaction(transaction, false));
        var existing = (await session.Events.FetchForExclusiveWriting<StreamHead>(key, cancellationToken).ConfigureAwait(false)).CurrentVersion ?? 0;
        if (existing > 0) throw new OperatorError($"cluster {cluster} already has {existing} events in this witness store; import only into a store without it");

        var state = new ClusterState { Cluster = cluster, Id = key };
        var built = new List<IEvent>(lines.Count);
        foreach (var (version, at, token, correlation, e) in lines)
        {
            var problem = state.Check(e, token);
            if (problem is not null) throw new OperatorError($"import version {version}: {e.GetType().Name} refused: {problem}");
            var before = state.Version;
            state.Apply(e, new EventStamp(version, at, token));
            if (state.Version / Options.SnapshotEvery > before / Options.SnapshotEvery)
                session.Store(new ClusterSnapshot { Id = ClusterSnapshot.IdFor(cluster, state.Version), Cluster = cluster, Version = state.Version, At = at, State = Clone(state) });
            // The original time, kept through Marten's own event metadata (a Rich append keeps it).
            var ev = Build(session, e, token, at);
            if (correlation is not null) ev.CorrelationId = correlation;
            built.Add(ev);
        }
        session.Events.StartStream<StreamHead>(key, built);
        StoreProjections(session, state, versionBefore: 0);
        await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await NotifyAsync(connection, transaction, state, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        Changed?.Invoke(new ClusterChanged(cluster, state.Version, state.Term, state.Primary));
        return (cluster, lines.Count);
    }
}
