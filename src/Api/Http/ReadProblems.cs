using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// The RFC 7807 problem details the read endpoints answer with (<c>application/problem+json</c>):
/// a title naming what went wrong, a detail saying what to do, and for a bad query parameter its name.
/// </summary>
public static class ReadProblems
{
    public const string ContentType = "application/problem+json";

    /// <summary>A problem detail's JSON body as the read endpoints write it.</summary>
    public sealed record Problem(string Type, string Title, int Status, string Detail, string? Instance, string? Parameter);

    public static IResult NotFound(HttpContext http, string title, string detail) => Of(http, StatusCodes.Status404NotFound, title, detail);

    /// <summary>A query parameter with a value the endpoint cannot use: 400, naming the parameter.</summary>
    public static IResult BadParameter(HttpContext http, string parameter, string detail) =>
        Of(http, StatusCodes.Status400BadRequest, $"bad value for parameter '{parameter}'", detail, parameter);

    public static IResult Unavailable(HttpContext http, string title, string detail) => Of(http, StatusCodes.Status503ServiceUnavailable, title, detail);

    public static IResult Of(HttpContext http, int status, string title, string detail, string? parameter = null) =>
        Results.Json(Body(http, status, title, detail, parameter), ReadJson.Options, ContentType, status);

    public static Problem Body(HttpContext http, int status, string title, string detail, string? parameter = null) =>
        new("about:blank", title, status, detail, http.Request.Path.Value, parameter);

    /// <summary>Writes a problem detail directly (for the event stream, which writes its own response).</summary>
    public static async Task WriteAsync(HttpContext http, int status, string title, string detail, string? parameter = null)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = ContentType;
        await http.Response.WriteAsync(JsonSerializer.Serialize(Body(http, status, title, detail, parameter), ReadJson.Options), http.RequestAborted).ConfigureAwait(false);
    }
}
