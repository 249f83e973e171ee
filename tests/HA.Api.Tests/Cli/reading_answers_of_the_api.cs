using System.Net;
using System.Text.Json;
using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Tests.Cli;

/// <summary>How the CLI shows what a node's API answers, and which exit code a refusal becomes.</summary>
public sealed class reading_answers_of_the_api
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public void an_object_is_aligned_keys_with_nested_objects_dotted_and_lists_of_objects_as_tables()
    {
        var text = JsonView.Render(Json("""
            {"cluster":"main","paused":false,"primary":"n1","nodes":{"up":3,"down":0},
             "holders":[],"tags":["a","b"],
             "members":[{"name":"n1","role":"primary","lag_bytes":0},{"name":"n2","role":"replica","lag_bytes":1024,"detached":true}]}
            """));
        Assert.Equal("""
            cluster     main
            paused      no
            primary     n1
            nodes.up    3
            nodes.down  0
            holders     (none)
            tags        a, b

            members:
            NAME  ROLE     LAG_BYTES  DETACHED
            n1    primary  0          
            n2    replica  1024       yes

            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void an_empty_list_says_none_and_a_bare_list_of_objects_is_one_table()
    {
        Assert.Equal("version  1\nevents   (none)\n", JsonView.Render(Json("""{"version":1,"events":[]}""")));
        Assert.Equal("NAME  PORT\nn1    5432\nn2    \n", JsonView.Render(Json("""[{"name":"n1","port":5432},{"name":"n2"}]""")));
    }

    [Fact]
    public void an_event_is_printed_as_the_line_the_api_sends_or_as_its_version_time_and_type()
    {
        Assert.Equal("v12 03:12:00 n2 became primary", ApiCommands.EventText("""{"version":12,"line":"v12 03:12:00 n2 became primary"}"""));
        Assert.StartsWith("12  2026-11-25T03:12:00Z  primary_changed  {", ApiCommands.EventText("""{"version":12,"at":"2026-11-25T03:12:00Z","type":"primary_changed"}"""), StringComparison.Ordinal);
        Assert.Equal("not json", ApiCommands.EventText("not json"));
    }

    [Fact]
    public void a_time_is_iso_8601_or_a_duration_back_from_now_and_anything_else_is_a_usage_error()
    {
        Assert.Equal("2026-11-25T03:12:00.0000000+00:00", ApiCommands.Time("2026-11-25T03:12:00Z", "--since"));
        var hourAgo = DateTimeOffset.Parse(ApiCommands.Time("1h", "--since"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(DateTimeOffset.UtcNow - hourAgo, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
        var error = Assert.Throws<UsageError>(() => ApiCommands.Time("yesterday", "--since"));
        Assert.Equal("--since 'yesterday' is neither a time (2026-11-25T03:12:00Z) nor a duration back from now (10m, 2h, 1d)", error.Message);
    }

    [Fact]
    public void the_url_comes_from_the_option_then_the_environment_then_the_default()
    {
        CommandLine Cli(params string[] a) => CommandLine.Parse("pgha status", a, ApiClient.ValueOptions, ["--json"]);
        using (var api = ApiClient.From(Cli("--url", "http://10.0.0.11:8008/anything"), new Dictionary<string, string> { ["PGHA_URL"] = "http://10.0.0.12:8008" }))
            Assert.Equal("http://10.0.0.11:8008/", api.BaseUrl.ToString());
        using (var api = ApiClient.From(Cli(), new Dictionary<string, string> { ["PGHA_URL"] = "https://10.0.0.12:8443" }))
            Assert.Equal("https://10.0.0.12:8443/", api.BaseUrl.ToString());
        using (var api = ApiClient.From(Cli(), new Dictionary<string, string>()))
            Assert.Equal("http://127.0.0.1:8008/", api.BaseUrl.ToString());
        var error = Assert.Throws<UsageError>(() => ApiClient.From(Cli("--url", "ftp://x"), new Dictionary<string, string>()));
        Assert.Equal("--url 'ftp://x' is not an http:// or https:// address of a pgha node's API", error.Message);
        using (var api = ApiClient.From(Cli("--url", "http://10.0.0.11:8008, http://10.0.0.12:8008"), new Dictionary<string, string>()))
            Assert.Equal(["http://10.0.0.11:8008/", "http://10.0.0.12:8008/"], api.Nodes.Select(n => n.ToString()));
    }

    [Fact]
    public async Task without_a_url_the_nodes_of_the_demo_are_asked_in_turn_and_each_refusal_is_named()
    {
        using var ports = HA.Testing.FreePorts.Reserve(2);
        var directory = Directory.CreateTempSubdirectory("pgha-cli-demo-");
        try
        {
            var demo = new HA.Api.Demo.DemoDirectory(directory.FullName);
            // A demo of two nodes whose APIs would listen on the ports numbered as their gossip ports; neither runs.
            File.WriteAllText(demo.StateFile, $$"""
                {"cluster":"demo","listen_address":"127.0.0.1","witness_port":1,"nodes":[{"name":"n1","port":2,"gossip_port":{{ports.Ports[0]}}},{"name":"n2","port":3,"gossip_port":{{ports.Ports[1]}}}],
                 "superuser_password":"x","replication_password":"y","created_at":"2026-11-25T00:00:00Z"}
                """);
            using var api = ApiClient.From(CommandLine.Parse("pgha status", [], ApiClient.ValueOptions, ["--json"]), new Dictionary<string, string>(), demoDirectory: directory.FullName);
            Assert.Equal([$"http://127.0.0.1:{ports.Ports[0]}/", $"http://127.0.0.1:{ports.Ports[1]}/"], api.Nodes.Select(n => n.ToString()));
            var unreachable = await Assert.ThrowsAsync<ApiUnreachable>(() => api.GetAsync("api/v1/status", CancellationToken.None));
            Assert.Equal(3, unreachable.ExitCode);
            // Both were tried, each named with what happened.
            Assert.Contains($"127.0.0.1:{ports.Ports[0]}: Connection refused", unreachable.Message, StringComparison.Ordinal);
            Assert.Contains($"127.0.0.1:{ports.Ports[1]}: Connection refused", unreachable.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(409, """{"type":"about:blank","title":"Switchover refused","status":409,"detail":"n2 lags 4 MB behind n1, over switchover.max_lag (1 MB); wait for it to catch up"}""",
        "n2 lags 4 MB behind n1, over switchover.max_lag (1 MB); wait for it to catch up (409 from POST /api/v1/cluster/switchover)", 1)]
    [InlineData(401, "", "not authorized (give a token with --token or $PGHA_TOKEN) (401 from POST /api/v1/cluster/switchover)", 4)]
    [InlineData(403, """{"title":"Forbidden","detail":"the bearer token is not one this node accepts"}""",
        "forbidden (the token is not accepted): the bearer token is not one this node accepts (403 from POST /api/v1/cluster/switchover)", 4)]
    [InlineData(500, "boom\nstack", "boom (500 from POST /api/v1/cluster/switchover)", 1)]
    public void a_refusal_prints_the_problem_details_message_and_sets_the_exit_code(int status, string body, string message, int exit)
    {
        using var response = new HttpResponseMessage((HttpStatusCode)status) { RequestMessage = new HttpRequestMessage(HttpMethod.Post, "http://127.0.0.1:8008/api/v1/cluster/switchover") };
        var refusal = ApiClient.Refusal(HttpMethod.Post, "api/v1/cluster/switchover", response, body);
        Assert.Equal(message, refusal.Message);
        Assert.Equal(exit, refusal.ExitCode);
    }
}
