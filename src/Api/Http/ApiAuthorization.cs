using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// Who may call the API: changes need <c>Authorization: Bearer &lt;api.token&gt;</c> (compared in constant
/// time); reads need it too when <c>api.read_access</c> is <c>token</c> (with <c>open</c>, the default,
/// anyone who reaches <c>api.listen</c> may read). No token configured refuses every change.
/// </summary>
public static class ApiAuthorization
{
    private const string Scheme = "Bearer ";

    /// <summary>Whether <paramref name="authorization"/> (the header's value) is <c>Bearer</c> followed by <paramref name="token"/>, compared in constant time.</summary>
    public static bool BearerMatches(string? authorization, string token) =>
        Presented(authorization) is { } presented
        // Hashed first, so that neither the comparison's time nor its length check tells how much matched.
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Whether the request carries the configured token (false when none is configured).</summary>
    public static bool Allows(ApiContext context, HttpRequest request) =>
        context.Config.ApiToken is { } token && BearerMatches(request.Headers.Authorization.ToString(), token);

    /// <summary>
    /// The one refusal path for changes and reads: null when the request may go on; else the problem to
    /// answer — for a change 403 without a configured token; 401 without the header; 403 with a wrong
    /// token. A read is refused only when <c>api.read_access</c> is <c>token</c> (which needs a token set).
    /// </summary>
    public static IResult? Refusal(ApiContext context, HttpRequest request, bool change)
    {
        if (!change && !context.Config.ApiReadsNeedToken) return null;
        if (context.Config.ApiToken is null)
            return ApiProblems.Problem(StatusCodes.Status403Forbidden, "changes are disabled",
                $"node {context.Node} has no api.token: set api.token (or api.token_file) in its pgha.yaml and reload (pgha reload) or restart it");
        if (Presented(request.Headers.Authorization.ToString()) is null)
        {
            request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiProblems.Problem(StatusCodes.Status401Unauthorized, change ? "a token is needed" : "a token is needed to read",
                (change ? "" : $"node {context.Node}'s api.read_access is token: ") + "send the node's api.token as 'Authorization: Bearer TOKEN' (pgha: --token TOKEN or $PGHA_TOKEN)");
        }
        if (Allows(context, request)) return null;
        request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return ApiProblems.Problem(StatusCodes.Status403Forbidden, "the token is not accepted", $"the bearer token is not node {context.Node}'s api.token");
    }

    /// <summary>Who asked, as the event names them: api:token@REMOTE_ADDRESS.</summary>
    public static string Caller(HttpRequest request) => $"api:token@{request.HttpContext.Connection.RemoteIpAddress?.ToString() ?? "local"}";

    private static string? Presented(string? authorization) =>
        authorization is not null && authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) && authorization.Trim().Length > Scheme.Trim().Length
            ? authorization[Scheme.Length..].Trim()
            : null;
}
