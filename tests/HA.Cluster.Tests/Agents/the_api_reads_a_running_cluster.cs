using System.Net;
using System.Text.Json;
using HA.Api.Cli;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// The read side of the REST API over real HTTP, on the agents of one real cluster: every endpoint says
/// what the cluster is (the primary the log names, its members, who holds the leases), a bad request is
/// a problem detail naming what is wrong, the CLI's read commands print tables and JSON, and the event
/// stream sends events in order and resumes right after the last one a client saw.
/// </summary>
public sealed class the_api_reads_a_running_cluster(ITestOutputHelper output)
{
    private static readonly TimeSpan Long = AgentScenario.Long;

    [Fact]
    public async Task every_read_endpoint_answers_what_the_cluster_is_and_the_event_stream_resumes_after_the_last_event()
    {
        await using var agents = await AgentCluster.StartAsync(startAgents: false);
        // n2 closes its reads (api.read_access: token); n1 and n3 leave them open, the default.
        var n2Config = await File.ReadAllTextAsync(agents.Configs["n2"]);
        var generated = $"token: \"{agents.ApiToken}\"";
        Assert.Contains(generated, n2Config, StringComparison.Ordinal);
        await File.WriteAllTextAsync(agents.Configs["n2"], n2Config.Replace(generated, $"token: {Token}, read_access: token", StringComparison.Ordinal));
        foreach (var node in agents.Nodes) agents.StartAgent(node);
        var bootstrapped = await AgentScenario.BootstrappedAsync(agents);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        // A replica's node answers for the whole cluster.
        var api = agents.ApiUrl("n2") + "/api/v1";
        await reads_need_the_token_where_read_access_is_token(agents, http, api);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);

        // status: the log's primary and coordinator, the lease holders, every node up.
        var status = await Eventually.HoldsAsync(() => GetAsync(http, api + "/status"),
            s => s.GetProperty("nodes").GetProperty("up").GetInt32() == 3 && s.GetProperty("lease").GetProperty("primary").GetString() == "n1"
                && s.GetProperty("lease").GetProperty("coordinator").ValueKind == JsonValueKind.String,
            Long, "status with 3 nodes up and both leases held");
        var state = (await agents.StateAsync())!;
        Assert.Equal("test", status.GetProperty("cluster").GetString());
        Assert.Equal("n2", status.GetProperty("node").GetString());
        Assert.Equal(state.Primary, status.GetProperty("primary").GetString());
        Assert.Equal(state.Coordinator, status.GetProperty("coordinator").GetString());
        Assert.Equal(state.Coordinator, status.GetProperty("lease").GetProperty("coordinator").GetString());
        Assert.Equal("postgres", status.GetProperty("lease").GetProperty("backend").GetString());
        Assert.False(status.GetProperty("paused").GetBoolean());
        Assert.False(string.IsNullOrEmpty(status.GetProperty("pgha_version").GetString()));

        // nodes: n1 the running primary, the others streaming replicas, with their addresses and positions.
        var nodes = await Eventually.HoldsAsync(() => GetAsync(http, api + "/nodes"),
            n => States(n) == "n1:primary:running n2:replica:streaming n3:replica:streaming", Long, "n1 running as primary, n2 and n3 streaming");
        foreach (var row in nodes.GetProperty("nodes").EnumerateArray())
        {
            var name = row.GetProperty("name").GetString()!;
            Assert.Equal(agents.Instance(name).Settings.Port, row.GetProperty("port").GetInt32());
            Assert.Equal(state.Timeline, row.GetProperty("timeline").GetInt32());
            Assert.Matches("^[0-9A-F]+/[0-9A-F]+$", row.GetProperty("lsn").GetString()!);
        }
        var n3 = await GetAsync(http, api + "/nodes/n3");
        Assert.Equal(("n3", "replica", false, false), (n3.GetProperty("name").GetString(), n3.GetProperty("role").GetString(), n3.GetProperty("detached").GetBoolean(), n3.GetProperty("nofailover").GetBoolean()));
        Assert.Equal(JsonValueKind.Number, n3.GetProperty("lag_bytes").ValueKind);
        Assert.Equal("n1", n3.GetProperty("upstream").GetString());
        var unknownNode = await ProblemAsync(http, api + "/nodes/n9", HttpStatusCode.NotFound);
        Assert.Contains("'n9'", unknownNode.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("n1, n2, n3", unknownNode.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The cluster state, live and at version 1 (the bootstrap) and at a time; bad values name the parameter.
        var live = await GetAsync(http, api + "/cluster/state");
        Assert.Equal("n1", live.GetProperty("primary").GetString());
        Assert.True(live.GetProperty("version").GetInt64() >= bootstrapped.Version);
        Assert.Equal(["n1", "n2", "n3"], live.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()));
        var first = await GetAsync(http, api + "/cluster/state?version=1");
        Assert.Equal((1L, "n1"), (first.GetProperty("version").GetInt64(), first.GetProperty("primary").GetString()));
        var atBootstrap = await GetAsync(http, api + "/cluster/state?at=" + Uri.EscapeDataString(bootstrapped.BootstrappedAt!.Value.ToString("O")));
        Assert.Equal("n1", atBootstrap.GetProperty("primary").GetString());
        Assert.Equal("at", (await ProblemAsync(http, api + "/cluster/state?at=yesterday", HttpStatusCode.BadRequest)).GetProperty("parameter").GetString());
        var before = await ProblemAsync(http, api + "/cluster/state?at=2001-01-01T00:00:00Z", HttpStatusCode.BadRequest);
        Assert.Equal("at", before.GetProperty("parameter").GetString());
        Assert.Contains("did not exist", before.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("version", (await ProblemAsync(http, api + "/cluster/state?version=-3", HttpStatusCode.BadRequest)).GetProperty("parameter").GetString());

        // Replication as the primary reports it, the lease as its backend holds it, the gossip view.
        var replication = await Eventually.HoldsAsync(() => GetAsync(http, api + "/cluster/replication"),
            r => r.GetProperty("standbys").EnumerateArray().Count(s => s.GetProperty("state").GetString() == "streaming") == 2, Long, "two standbys streaming");
        Assert.Equal(["n2", "n3"], replication.GetProperty("standbys").EnumerateArray().Select(s => s.GetProperty("node").GetString()));
        var lease = await GetAsync(http, api + "/lease");
        var holders = lease.GetProperty("leases").EnumerateArray().ToDictionary(l => l.GetProperty("lease").GetString()!, l => l);
        Assert.Equal("n1", holders["primary"].GetProperty("holder").GetString());
        Assert.Equal(state.Coordinator, holders["coordinator"].GetProperty("holder").GetString());
        Assert.True(holders["coordinator"].GetProperty("token").GetInt64() > 0);
        var members = await Eventually.HoldsAsync(() => GetAsync(http, api + "/members"),
            m => m.GetProperty("members").EnumerateArray().All(r => r.GetProperty("heartbeat_age_ms").ValueKind == JsonValueKind.Number) && m.GetProperty("members").GetArrayLength() == 3,
            Long, "n2 hears every member");
        Assert.Equal("n2", members.GetProperty("node").GetString());

        // Directives and events, with filters and paging; bad filters name the parameter.
        var directives = await GetAsync(http, api + "/directives?limit=5");
        Assert.True(directives.GetProperty("directives").GetArrayLength() <= 5);
        Assert.Equal("kind", (await ProblemAsync(http, api + "/directives?kind=explode", HttpStatusCode.BadRequest)).GetProperty("parameter").GetString());
        var page = await GetAsync(http, api + "/events?limit=1");
        var bootstrap = page.GetProperty("events")[0];
        Assert.Equal((1L, "cluster_bootstrapped"), (bootstrap.GetProperty("version").GetInt64(), bootstrap.GetProperty("type").GetString()));
        Assert.Equal(1, page.GetProperty("next_after_version").GetInt64());
        var next = await GetAsync(http, api + "/events?limit=1&after_version=1");
        Assert.Equal(2, next.GetProperty("events")[0].GetProperty("version").GetInt64());
        var ofN3 = await GetAsync(http, api + "/events?node=n3&type=cluster_bootstrapped,node_health_changed");
        Assert.All(ofN3.GetProperty("events").EnumerateArray(), e => Assert.Contains("n3", e.GetProperty("nodes").EnumerateArray().Select(n => n.GetString())));
        Assert.Equal("type", (await ProblemAsync(http, api + "/events?type=nonsense", HttpStatusCode.BadRequest)).GetProperty("parameter").GetString());
        Assert.Equal("node", (await ProblemAsync(http, api + "/events?node=n9", HttpStatusCode.BadRequest)).GetProperty("parameter").GetString());
        Assert.Equal("since", (await ProblemAsync(http, api + "/events?since=soon", HttpStatusCode.BadRequest)).GetProperty("parameter").GetString());
        await ProblemAsync(http, api + "/failovers/failover-none", HttpStatusCode.NotFound);

        await the_event_stream_sends_events_in_order_and_resumes_after_the_last_one(agents, http, api);
        await the_cli_read_commands_print_tables_and_json(agents);
        await a_failover_is_explained_and_the_nodes_follow_it(agents, http);
    }

    private const string Token = "reads-need-this-token";

    private static async Task reads_need_the_token_where_read_access_is_token(AgentCluster agents, HttpClient http, string api)
    {
        using (var none = await http.GetAsync(api + "/status"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Contains("Authorization: Bearer", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var wrong = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, api + "/nodes") { Headers = { { "Authorization", "Bearer not-" + Token } } }))
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        using (var stream = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, api + "/events/stream"), HttpCompletionOption.ResponseHeadersRead))
            Assert.Equal(HttpStatusCode.Unauthorized, stream.StatusCode);
        // Health checks stay open (load balancers send no token), and so do the reads of a node left open.
        using (var liveness = await http.GetAsync(agents.ApiUrl("n2") + "/liveness"))
            Assert.NotEqual(HttpStatusCode.Unauthorized, liveness.StatusCode);
        await Eventually.HoldsAsync(async () => (await http.GetAsync(agents.ApiUrl("n3") + "/api/v1/status")).StatusCode, s => s == HttpStatusCode.OK, Long, "n3's open status");
        var (code, text) = await CliAsync("status", "--url", agents.ApiUrl("n2"));
        Assert.Equal((4, true), (code, text.StartsWith("not authorized", StringComparison.Ordinal)));
        (code, text) = await CliAsync("status", "--url", agents.ApiUrl("n2"), "--token", Token);
        Assert.True(code == 0, text);
    }

    private async Task a_failover_is_explained_and_the_nodes_follow_it(AgentCluster agents, HttpClient http)
    {
        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, Long, "a replica promoted");
        var api = agents.ApiUrl("n3") + "/api/v1";
        var nodes = await Eventually.HoldsAsync(() => GetAsync(http, api + "/nodes"),
            n => n.GetProperty("primary").GetString() == promoted.Primary && n.GetProperty("nodes").EnumerateArray().Any(r => r.GetProperty("name").GetString() == promoted.Primary && r.GetProperty("state").GetString() == "running"),
            Long, $"the nodes show {promoted.Primary} running as primary");
        Assert.Equal("former_primary", nodes.GetProperty("nodes")[0].GetProperty("role").GetString());

        var started = await GetAsync(http, api + "/events?type=failover_started");
        var id = started.GetProperty("events").EnumerateArray().Last().GetProperty("data").GetProperty("failover_id").GetString()!;
        var story = await GetAsync(http, api + "/failovers/" + Uri.EscapeDataString(id));
        output.WriteLine($"failover {id}: {story}");
        Assert.Equal((id, "n1", promoted.Primary, promoted.Primary, "completed"), (story.GetProperty("failover_id").GetString(), story.GetProperty("old_primary").GetString(),
            story.GetProperty("chosen").GetString(), story.GetProperty("new_primary").GetString(), story.GetProperty("outcome").GetString()));
        Assert.Contains(story.GetProperty("candidates").EnumerateArray(), c => c.GetProperty("node").GetString() == promoted.Primary);
        Assert.Contains(story.GetProperty("directives").EnumerateArray(), d => d.GetProperty("kind").GetString() == "PROMOTE" && d.GetProperty("node").GetString() == promoted.Primary);
        Assert.Contains(story.GetProperty("events").EnumerateArray(), e => e.GetProperty("type").GetString() == "primary_changed");

        var (code, text) = await CliAsync("explain", id, "--url", agents.ApiUrl("n3"));
        Assert.True(code == 0, text);
        Assert.Matches($@"(?m)^chosen\s+{promoted.Primary}$", text);
    }

    private async Task the_event_stream_sends_events_in_order_and_resumes_after_the_last_one(AgentCluster agents, HttpClient http, string api)
    {
        var from = await agents.Witness.VersionAsync(agents.Name);
        using var reading = new CancellationTokenSource(Long);
        var received = new List<(long Id, string Type)>();
        using (var stream = await OpenStreamAsync(http, api + $"/events/stream?since_version={from}", null, reading.Token))
        {
            await Append(agents, new FailoverPaused("api test: first") { By = Initiator.User("test"), CorrelationId = "api-test-1" });
            await Append(agents, new FailoverResumed("api test: second") { By = Initiator.User("test"), CorrelationId = "api-test-2" });
            await foreach (var e in ReadEventsAsync(stream, reading.Token))
            {
                received.Add(e);
                if (e.Type == "failover_resumed") break;
            }
        }
        output.WriteLine($"stream from {from}: {string.Join(", ", received)}");
        // In order, none missing (agents may record events of their own in between).
        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => from + i), received.Select(e => e.Id));
        var paused = received.FindIndex(e => e.Type == "failover_paused");
        Assert.True(paused >= 0 && paused < received.Count - 1, $"failover_paused before failover_resumed: {string.Join(", ", received)}");

        // Events recorded while nobody listens arrive after a reconnect with the last id seen, and nothing before it.
        var lastSeen = received[^1].Id;
        await Append(agents, new FailoverPaused("api test: while away") { By = Initiator.User("test"), CorrelationId = "api-test-3" });
        await Append(agents, new FailoverResumed("api test: still away") { By = Initiator.User("test"), CorrelationId = "api-test-4" });
        var resumed = new List<(long Id, string Type)>();
        using (var stream = await OpenStreamAsync(http, api + "/events/stream", lastSeen.ToString(System.Globalization.CultureInfo.InvariantCulture), reading.Token))
        {
            await foreach (var e in ReadEventsAsync(stream, reading.Token))
            {
                resumed.Add(e);
                if (e.Type == "failover_resumed") break;
            }
        }
        output.WriteLine($"resumed after {lastSeen}: {string.Join(", ", resumed)}");
        Assert.Equal(Enumerable.Range(1, resumed.Count).Select(i => lastSeen + i), resumed.Select(e => e.Id));
        Assert.Equal(["failover_paused", "failover_resumed"], resumed.Select(e => e.Type).Where(t => t.StartsWith("failover_", StringComparison.Ordinal)));

        var badId = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, api + "/events/stream") { Headers = { { "Last-Event-ID", "yesterday" } } });
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
        Assert.Equal("application/problem+json", badId.Content.Headers.ContentType?.MediaType);
    }

    private async Task the_cli_read_commands_print_tables_and_json(AgentCluster agents)
    {
        var url = agents.ApiUrl("n3");
        var (code, text) = await CliAsync("status", "--url", url);
        Assert.True(code == 0, text);
        Assert.Matches(@"(?m)^primary\s+n1$", text);
        Assert.Matches(@"(?m)^nodes\.up\s+3$", text);

        (code, text) = await CliAsync("nodes", "list", "--url", url);
        Assert.True(code == 0, text);
        Assert.Matches(@"(?m)^NAME\s+HOST\s+PORT\s+ROLE\s+STATE", text);
        Assert.Matches(@"(?m)^n1\s+\S+\s+\d+\s+primary\s+running", text);

        (code, text) = await CliAsync("nodes", "info", "n2", "--url", url, "--json");
        Assert.True(code == 0, text);
        using (var node = JsonDocument.Parse(text)) Assert.Equal("n2", node.RootElement.GetProperty("name").GetString());

        (code, text) = await CliAsync("nodes", "info", "n9", "--url", url);
        Assert.Equal(1, code);
        Assert.Contains("node 'n9' is not a member of cluster test", text, StringComparison.Ordinal);

        foreach (var command in new[] { "members", "lease", "directives" })
        {
            (code, text) = await CliAsync(command, "--url", url);
            Assert.True(code == 0, $"pgha {command}: {text}");
        }

        (code, text) = await CliAsync("history", "--limit", "2", "--url", url);
        Assert.True(code == 0, text);
        Assert.Matches(@"^1  \S+  cluster_bootstrapped — cluster test bootstrapped", text);
        Assert.Contains("more: add --after-version 2 for the next page", text, StringComparison.Ordinal);

        (code, text) = await CliAsync("history", "--version", "1", "--url", url, "--json");
        Assert.True(code == 0, text);
        using (var at = JsonDocument.Parse(text)) Assert.Equal(1, at.RootElement.GetProperty("version").GetInt64());

        (code, text) = await CliAsync("history", "--at", "2001-01-01T00:00:00Z", "--url", url);
        Assert.Equal(1, code);
        Assert.Contains("did not exist", text, StringComparison.Ordinal);

        // pgha watch prints each event as one line until interrupted.
        var from = await agents.Witness.VersionAsync(agents.Name);
        var printed = new SynchronizedWriter();
        using var stop = new CancellationTokenSource();
        var watch = ApiCommands.RunAsync("watch", ["--since-version", from.ToString(System.Globalization.CultureInfo.InvariantCulture), "--url", url], printed, stop.Token);
        await Append(agents, new FailoverPaused("api test: watched") { By = Initiator.User("test"), CorrelationId = "api-test-5" });
        await Eventually.HoldsAsync(() => Task.FromResult(printed.ToString()), t => t.Contains("automatic failover paused: api test: watched", StringComparison.Ordinal), Long, "pgha watch prints the pause");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch);
        await Append(agents, new FailoverResumed("api test: done") { By = Initiator.User("test"), CorrelationId = "api-test-6" });
    }

    private static async Task<(int Code, string Text)> CliAsync(params string[] arguments)
    {
        var printed = new StringWriter();
        try
        {
            return (await ApiCommands.RunAsync(arguments[0], arguments[1..], printed, CancellationToken.None), printed.ToString());
        }
        catch (HA.Core.Errors.OperatorError e)
        {
            return (e.ExitCode, e.Message);
        }
    }

    private static Task<ClusterState> Append(AgentCluster agents, ClusterEvent e) => agents.Witness.AppendCheckedAsync(agents.Name, e);

    private static string States(JsonElement nodes) => string.Join(" ", nodes.GetProperty("nodes").EnumerateArray()
        .Select(n => $"{n.GetProperty("name").GetString()}:{n.GetProperty("role").GetString()}:{n.GetProperty("state").GetString()}"));

    private static async Task<JsonElement> GetAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {body}");
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    private static async Task<JsonElement> ProblemAsync(HttpClient http, string url, HttpStatusCode status)
    {
        using var response = await http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"GET {url}: expected {(int)status}, got {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(body);
        var problem = document.RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(("about:blank", new Uri(url).AbsolutePath), (problem.GetProperty("type").GetString(), problem.GetProperty("instance").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        return problem;
    }

    private static async Task<HttpResponseMessage> OpenStreamAsync(HttpClient http, string url, string? lastEventId, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return response;
    }

    /// <summary>The events of a Server-Sent Events stream: each frame's id and its data's type; comments skipped.</summary>
    private static async IAsyncEnumerable<(long Id, string Type)> ReadEventsAsync(HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(body);
        long? id = null;
        string? data = null;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    using var document = JsonDocument.Parse(data);
                    var version = document.RootElement.GetProperty("version").GetInt64();
                    Assert.Equal(id, version);
                    yield return (version, document.RootElement.GetProperty("type").GetString()!);
                }
                (id, data) = (null, null);
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal)) id = long.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
        }
    }

    /// <summary>A writer the watch command prints to on its own task while the test reads it.</summary>
    private sealed class SynchronizedWriter : StringWriter
    {
        private readonly object _gate = new();

        public override void Write(char value) { lock (_gate) base.Write(value); }
        public override void Write(string? value) { lock (_gate) base.Write(value); }
        public override void WriteLine(string? value) { lock (_gate) base.WriteLine(value); }
        public override string ToString() { lock (_gate) return base.ToString(); }
    }
}
