using System.Text.Json;
using System.Text.Json.Serialization;
using HA.Api.Operations;
using HA.Core.Errors;
using HA.Projections;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace HA.Api.Http;

/// <summary>
/// RFC 7807 problem details (application/problem+json), one shape for every answer of the API that is not
/// a success — reads and changes alike: <c>type</c> (about:blank), <c>title</c> (what kind of problem),
/// <c>status</c>, <c>detail</c> (what is wrong and what to do), <c>instance</c> (the request's path) and,
/// for a bad query parameter, <c>parameter</c> (its name). 400 malformed request, 401/403 token, 404
/// unknown node or failover, 409 refused by the cluster's state, 422 invalid parameters, 503 a store
/// or the primary cannot be asked. None of them changed anything.
/// </summary>
public static class ApiProblems
{
    public const string ContentType = "application/problem+json";

    /// <summary>A problem detail's JSON body (snake_case, <c>parameter</c> left out when there is none).</summary>
    public sealed record Body(
        string Type, string Title, int Status, string Detail, string? Instance,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Parameter);

    public static IResult Problem(int status, string title, string detail, string? parameter = null) => new ProblemResult(status, title, detail, parameter);

    public static IResult BadRequest(string detail) => Problem(StatusCodes.Status400BadRequest, "malformed request", detail);

    public static IResult NotFound(string title, string detail) => Problem(StatusCodes.Status404NotFound, title, detail);

    /// <summary>A query parameter with a value the endpoint cannot use: 400, naming the parameter.</summary>
    public static IResult BadParameter(string parameter, string detail) =>
        Problem(StatusCodes.Status400BadRequest, $"bad value for parameter '{parameter}'", detail, parameter);

    public static IResult Unavailable(string title, string detail) => Problem(StatusCodes.Status503ServiceUnavailable, title, detail);

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

    private sealed class ProblemResult(int status, string title, string detail, string? parameter) : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => status;

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = ContentType;
            await httpContext.Response.WriteAsync(JsonSerializer.Serialize(new Body("about:blank", title, status, detail, httpContext.Request.Path.Value, parameter), ReadJson.Options), httpContext.RequestAborted).ConfigureAwait(false);
        }
    }
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
