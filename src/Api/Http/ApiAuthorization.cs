using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// Who may call the API: changes need <c>Authorization: Bearer &lt;api.token&gt;</c> (compared in constant
/// time); reads need it too when <c>api.read_access</c> is <c>token</c>. No token configured refuses every change.
/// </summary>
public static class ApiAuthorization
{
    /// <summary>Whether the request carries the configured token (false when none is configured).</summary>
    public static bool Allows(ApiContext context, HttpRequest request) =>
        context.Config.ApiToken is { } token && Presented(request) is { } presented
        // Hashed first so that neither the content nor the length of the token shows in the time taken.
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Null when the request may go on; else the problem to answer: 403 without a configured token, 401 without the header, 403 with a wrong token.</summary>
    public static IResult? Refusal(ApiContext context, HttpRequest request, bool change)
    {
        if (!change && !context.Config.ApiReadsNeedToken) return null;
        if (context.Config.ApiToken is null)
            return ApiProblems.Problem(StatusCodes.Status403Forbidden, "changes are disabled",
                $"node {context.Node} has no api.token: set api.token (or api.token_file) in its pgha.yaml and reload (pgha reload) or restart it");
        if (Presented(request) is null)
        {
            request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiProblems.Problem(StatusCodes.Status401Unauthorized, "a token is needed",
                "send the node's api.token as 'Authorization: Bearer TOKEN' (pgha: --token TOKEN or $PGHA_TOKEN)");
        }
        return Allows(context, request) ? null
            : ApiProblems.Problem(StatusCodes.Status403Forbidden, "the token is not accepted", $"the bearer token is not node {context.Node}'s api.token");
    }

    /// <summary>Who asked, as the event names them: api:token@REMOTE_ADDRESS.</summary>
    public static string Caller(HttpRequest request) => $"api:token@{request.HttpContext.Connection.RemoteIpAddress?.ToString() ?? "local"}";

    private static string? Presented(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header.Length > scheme.Length ? header[scheme.Length..].Trim() : null;
    }
}
