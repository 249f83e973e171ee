using System.Security.Cryptography;
using System.Text;
using HA.Api.Config;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// Who may call the API: with <c>api.read_access: token</c> the read endpoints need
/// <c>Authorization: Bearer &lt;api.token&gt;</c>; with <c>open</c> (the default) anyone who reaches
/// <c>api.listen</c> may read. Tokens are compared in constant time.
/// </summary>
public static class ApiAuthorization
{
    /// <summary>Whether <paramref name="authorization"/> (the header's value) is <c>Bearer</c> followed by <paramref name="token"/>, compared in constant time.</summary>
    public static bool BearerMatches(string? authorization, string token)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        // Hashed first, so that neither the comparison's time nor its length check tells how much matched.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim()));
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }

    /// <summary>The refusal of a read request (401 without a token, 403 with a wrong one), or null when it may read.</summary>
    public static IResult? RefuseRead(HttpContext http, PghaConfig config)
    {
        if (!config.ApiReadsNeedToken || config.ApiToken is not { } token) return null;
        string? authorization = http.Request.Headers.Authorization;
        if (BearerMatches(authorization, token)) return null;
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return string.IsNullOrEmpty(authorization)
            ? ReadProblems.Of(http, StatusCodes.Status401Unauthorized, "a token is needed to read",
                "this node's api.read_access is token: send Authorization: Bearer <api.token> (pgha --token or $PGHA_TOKEN)")
            : ReadProblems.Of(http, StatusCodes.Status403Forbidden, "the token is not accepted",
                "the bearer token is not this node's api.token; use the token in the cluster's pgha.yaml");
    }
}
