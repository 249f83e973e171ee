using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using HA.Core.Events;
using HA.Core.History;

namespace HA.Api.Http;

/// <summary>One recorded event as the API shows it: its place in the stream, its one line for people, and its data.</summary>
public sealed record EventView(
    long Version,
    DateTimeOffset At,
    string Type,
    IReadOnlyList<string> Nodes,
    string By,
    string CorrelationId,
    long? FencingToken,
    string Line,
    JsonElement Data);

/// <summary>How the read endpoints write JSON: snake_case fields, enums as snake_case strings (directive kinds as PROMOTE), durations in seconds, times in ISO 8601.</summary>
public static class ReadJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        // Answers are JSON, never embedded in HTML: "—" and "+" stay readable for people using curl.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new DirectiveKindConverter(), new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower), new SecondsConverter() },
    };

    /// <summary>An event's view: <see cref="EventView.Line"/> is "version  time  type — what happened (by whom)".</summary>
    public static EventView Event(RecordedEvent recorded) => new(
        recorded.Version,
        recorded.At,
        recorded.Type,
        EventTypes.NodesOf(recorded.Event),
        recorded.Event.By.ToString(),
        recorded.Event.CorrelationId,
        recorded.FencingToken,
        $"{recorded.Version.ToString(CultureInfo.InvariantCulture)}  {recorded.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)}  {EventLine.Describe(recorded)}",
        // By its runtime type: every field of the event, not only the base record's.
        JsonSerializer.SerializeToElement(recorded.Event, recorded.Event.GetType(), Options));

    /// <summary>Directive kinds as the design and the CLI write them: PROMOTE, APPLY_CONFIG.</summary>
    private sealed class DirectiveKindConverter : JsonConverter<DirectiveKind>
    {
        public override DirectiveKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.GetString();
            return Enum.GetValues<DirectiveKind>().First(k => EventLine.KindName(k) == text);
        }

        public override void Write(Utf8JsonWriter writer, DirectiveKind value, JsonSerializerOptions options) => writer.WriteStringValue(EventLine.KindName(value));
    }

    /// <summary>Durations as seconds (a number), which scripts read more easily than "00:00:01.2340000".</summary>
    private sealed class SecondsConverter : JsonConverter<TimeSpan>
    {
        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => TimeSpan.FromSeconds(reader.GetDouble());

        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) => writer.WriteNumberValue(Math.Round(value.TotalSeconds, 3));
    }
}
