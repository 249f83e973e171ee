using System.Text.Json;

namespace HA.Api.Cli;

/// <summary>How a change command prints the API's answer: its <c>message</c> (or the JSON as it came with --json).</summary>
public static class ApiAnswers
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Prints the answer; exit code 0.</summary>
    public static int Print(TextWriter output, JsonElement answer, bool json)
    {
        if (json) output.WriteLine(JsonSerializer.Serialize(answer, Indented));
        else if (answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String) output.WriteLine(message.GetString());
        else output.Write(JsonView.Render(answer));
        return 0;
    }

    /// <summary>The answer's <c>status</c> field (requested, scheduled, completed, running), or null.</summary>
    public static string? Status(JsonElement answer) =>
        answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String ? status.GetString() : null;
}
