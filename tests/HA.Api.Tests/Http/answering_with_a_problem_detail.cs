using System.Text.Json;
using HA.Api.Http;
using HA.Api.Operations;
using HA.Projections;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Tests.Http;

/// <summary>
/// Every problem detail of the API has one shape (docs/api.md): type, title, status, detail, instance, and
/// parameter only for a bad query parameter — whether a read, a change or a health check answers it.
/// </summary>
public sealed class answering_with_a_problem_detail
{
    [Fact]
    public async Task a_refused_change_a_bad_parameter_and_an_unknown_node_share_one_shape()
    {
        var refused = await WriteAsync(ApiProblems.From(new EventRejectedError("test", "NodeLeft", "n1 is the primary")), "/api/v1/members/n1");
        Assert.Equal(["type", "title", "status", "detail", "instance"], refused.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("about:blank", "refused", 409, "cluster test: NodeLeft refused: n1 is the primary", "/api/v1/members/n1"),
            (refused.GetProperty("type").GetString(), refused.GetProperty("title").GetString(), refused.GetProperty("status").GetInt32(),
             refused.GetProperty("detail").GetString(), refused.GetProperty("instance").GetString()));

        var bad = await WriteAsync(ApiProblems.BadParameter("lag", "lag='fast' is not a size or a delay"), "/replica");
        Assert.Equal(["type", "title", "status", "detail", "instance", "parameter"], bad.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("about:blank", 400, "lag", "/replica"), (bad.GetProperty("type").GetString(), bad.GetProperty("status").GetInt32(), bad.GetProperty("parameter").GetString(), bad.GetProperty("instance").GetString()));

        var unknown = await WriteAsync(ApiProblems.From(new UnknownNodeError("test", "n9", ["n1", "n2"])), "/api/v1/nodes/n9/detach");
        Assert.Equal((404, "unknown node", "about:blank"), (unknown.GetProperty("status").GetInt32(), unknown.GetProperty("title").GetString(), unknown.GetProperty("type").GetString()));
    }

    private static async Task<JsonElement> WriteAsync(IResult result, string path)
    {
        var http = new DefaultHttpContext();
        http.Request.Path = path;
        http.Response.Body = new MemoryStream();
        await result.ExecuteAsync(http);
        Assert.Equal("application/problem+json", http.Response.ContentType);
        Assert.Equal(((IStatusCodeHttpResult)result).StatusCode, http.Response.StatusCode);
        http.Response.Body.Position = 0;
        using var document = await JsonDocument.ParseAsync(http.Response.Body);
        return document.RootElement.Clone();
    }
}
