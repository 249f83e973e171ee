using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HA.Api.Cli;

/// <summary>
/// Renders the API's JSON for people: an object as aligned <c>key  value</c> lines (nested objects by
/// dotted keys), each list of objects in it as a table with one column per field, a list of objects
/// alone as one table. <c>--json</c> bypasses this and prints the JSON as it came.
/// </summary>
public static class JsonView
{
    public static string Render(JsonElement element)
    {
        var text = new StringBuilder();
        switch (element.ValueKind)
        {
            case JsonValueKind.Array when IsTable(element):
                text.Append(Table(element));
                break;
            case JsonValueKind.Object:
                var fields = new List<(string Key, string Value)>();
                var tables = new List<(string Key, JsonElement Rows)>();
                Flatten(element, "", fields, tables);
                var width = fields.Count == 0 ? 0 : fields.Max(f => f.Key.Length);
                foreach (var (key, value) in fields) text.Append(key.PadRight(width + 2)).Append(value).Append('\n');
                foreach (var (key, rows) in tables)
                {
                    if (text.Length > 0) text.Append('\n');
                    text.Append(key).Append(":\n");
                    text.Append(Table(rows));
                }
                break;
            default:
                text.Append(Cell(element)).Append('\n');
                break;
        }
        return text.ToString();
    }

    /// <summary>One cell: strings as they are, null as empty, numbers and booleans as JSON writes them, lists of scalars joined by commas (an empty one "(none)"), anything else compact JSON.</summary>
    public static string Cell(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.Array when value.GetArrayLength() == 0 => "(none)",
        JsonValueKind.Array when value.EnumerateArray().All(IsScalar) => string.Join(", ", value.EnumerateArray().Select(Cell)),
        _ => value.GetRawText(),
    };

    private static void Flatten(JsonElement element, string prefix, List<(string, string)> fields, List<(string, JsonElement)> tables)
    {
        foreach (var property in element.EnumerateObject())
        {
            var key = prefix + property.Name;
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Any()) Flatten(value, key + ".", fields, tables);
            else if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0 && IsTable(value)) tables.Add((key, value));
            else fields.Add((key, Cell(value)));
        }
    }

    private static bool IsScalar(JsonElement value) => value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array);

    private static bool IsTable(JsonElement array) => array.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Object);

    private static string Table(JsonElement rows)
    {
        var columns = new List<string>();
        foreach (var row in rows.EnumerateArray())
            foreach (var property in row.EnumerateObject())
                if (!columns.Contains(property.Name)) columns.Add(property.Name);
        var cells = rows.EnumerateArray()
            .Select(row => (IReadOnlyList<string>)columns.Select(c => row.TryGetProperty(c, out var v) ? Cell(v) : "").ToList());
        return TextTable.Render(columns.Select(c => c.ToUpper(CultureInfo.InvariantCulture)).ToList(), cells);
    }
}
