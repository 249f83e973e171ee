using System.Text.Json;
using HA.Api.Operations;
using HA.Core.Errors;
using HA.Projections;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace HA.Api.Http;

/// <summary>
/// RFC 7807 problem details (application/problem+json) for everything a caller can get wrong, each with
/// a detail that says what to do: 400 malformed request, 401/403 token, 404 unknown node, 409 refused by
/// the cluster's state, 422 invalid parameters, 503 witness unreachable. None of them changed anything.
/// </summary>
public static class ApiProblems
{
    public static IResult Problem(int status, string title, string detail) =>
        Results.Problem(detail: detail, statusCode: status, title: title);

    public static IResult BadRequest(string detail) => Problem(StatusCodes.Status400BadRequest, "malformed request", detail);

    /// <summary>The problem for an error raised while serving a request; nothing was recorded.</summary>
    public static IResult From(Exception error) => error switch
    {
        RequestBodyError e => BadRequest(e.Message),
        UnknownNodeError e => Problem(StatusCodes.Status404NotFound, "unknown node", e.Message),
        InvalidRequestError e => Problem(StatusCodes.Status422UnprocessableEntity, "invalid request", e.Message),
        EventRejectedError e => Problem(StatusCodes.Status409Conflict, "refused", e.Message),
        UnknownClusterError e => Problem(StatusCodes.Status503ServiceUnavailable, "cluster not bootstrapped", e.Message + "; wait until the agents have bootstrapped it"),
        OperatorError e => Problem(StatusCodes.Status409Conflict, "refused", e.Message),
        NpgsqlException or TimeoutException => Problem(StatusCodes.Status503ServiceUnavailable, "witness unreachable",
            $"the witness store cannot be reached ({error.GetBaseException().Message}); nothing was recorded: try again, or ask another node"),
        // A bug, not the caller's doing: said as such, with what failed, rather than an empty 500.
        _ => Problem(StatusCodes.Status500InternalServerError, "internal error",
            $"the node failed to serve the request ({error.GetType().Name}: {error.GetBaseException().Message}); whether it was recorded is in the cluster's history (pgha history)"),
    };
}

/// <summary>
/// A change's JSON body: an object whose fields are all known (a typo is refused, not ignored) and of the
/// expected type; an empty body is an empty object. Problems are <see cref="RequestBodyError"/> (400).
/// </summary>
public sealed class RequestBody
{
    private readonly JsonElement _root;

    private RequestBody(JsonElement root) => _root = root;

    public static async Task<RequestBody> ReadAsync(HttpRequest request, IReadOnlyCollection<string>? fields, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(request.Body);
        var text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text)) return new RequestBody(JsonDocument.Parse("{}").RootElement.Clone());
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new RequestBodyError($"the body is not valid JSON ({e.Message}); send a JSON object such as {{\"reason\": \"maintenance\"}}");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new RequestBodyError($"the body is a JSON {root.ValueKind.ToString().ToLowerInvariant()}; send a JSON object");
        if (fields is not null && root.EnumerateObject().Select(p => p.Name).FirstOrDefault(name => !fields.Contains(name)) is { } unknown)
            throw new RequestBodyError($"unknown field '{unknown}'; expected {(fields.Count == 0 ? "no fields" : string.Join(", ", fields))}");
        return new RequestBody(root);
    }

    public JsonElement Root => _root;

    public string? String(string field) => _root.TryGetProperty(field, out var value) ? value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null => null,
        _ => throw new RequestBodyError($"'{field}' must be a string"),
    } : null;

    public string RequiredString(string field) => String(field) is { Length: > 0 } value ? value : throw new RequestBodyError($"'{field}' is required");

    /// <summary>An integer field from <paramref name="min"/> to <paramref name="max"/>, or null when absent.</summary>
    public int? Integer(string field, int min, int max)
    {
        if (!_root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max
            ? number
            : throw new RequestBodyError($"'{field}' must be an integer from {min} to {max}");
    }

    public bool Boolean(string field) => _root.TryGetProperty(field, out var value) && value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False or JsonValueKind.Null => false,
        _ => throw new RequestBodyError($"'{field}' must be true or false"),
    };
}

/// <summary>The request's body or query is malformed (400); nothing was done.</summary>
public sealed class RequestBodyError(string message) : OperatorError(message);
