using System.Text.Json;
using System.Text.Json.Serialization;

namespace HA.Core.Tests.Directives;

/// <summary>
/// JSON as the witness store writes and reads it (Marten's System.Text.Json serializer: camelCase, enums
/// as strings), without a database; HA.Projections.Tests does the same through Marten itself and jsonb.
/// </summary>
internal static class StoredJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public static T RoundTrip<T>(T value) => JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(value, Options), Options)!;

    public static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, Options)!;
}
