using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;
using HA.Testing;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>One real cluster (PostgreSQL, witness, agents) for every test of <see cref="the_api_changes_a_running_cluster"/>.</summary>
public sealed class ApiClusterFixture : IAsyncLifetime
{
    public AgentCluster Agents { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(Agents);
    }

    public async Task DisposeAsync() => await Agents.DisposeAsync();
}

/// <summary>
/// The REST API's changes over real HTTP against a running cluster: the token is required (401 without
/// it, 403 with a wrong one), a malformed body is 400, an unknown node 404, and every refusal is a
/// problem detail after which nothing was recorded; pause, resume, a switchover and a parameter change
/// asked through the API happen, and their events name who asked.
/// </summary>
public sealed class the_api_changes_a_running_cluster(ApiClusterFixture fixture, ITestOutputHelper output) : IClassFixture<ApiClusterFixture>
{
    private AgentCluster Agents => fixture.Agents;

    [Fact]
    public async Task refuses_a_change_without_the_right_token_or_with_a_malformed_request_and_records_nothing()
    {
        var before = await SteadyAsync();
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl("n2")), Timeout = TimeSpan.FromSeconds(30) };

        using (var missing = await http.PostAsync("/api/v1/cluster/pause", null))
        {
            var problem = await ProblemAsync(missing, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Contains("Authorization: Bearer", problem, StringComparison.Ordinal);
        }
        using (var wrong = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", null, token: "not-the-token-of-this-cluster"))
            Assert.Contains("not node n2's api.token", await ProblemAsync(wrong, HttpStatusCode.Forbidden), StringComparison.Ordinal);
        using (var malformed = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/switchover", "{\"to\": \"n3\""))
            Assert.Contains("not valid JSON", await ProblemAsync(malformed, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        using (var typo = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/failover", "{\"to\": \"n3\", \"allow_dataloss\": true}"))
            Assert.Contains("unknown field 'allow_dataloss'", await ProblemAsync(typo, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        using (var unknown = await SendAsync(http, HttpMethod.Post, "/api/v1/nodes/n9/detach", "{\"reason\": \"disk swap\"}"))
            Assert.Equal("unknown node 'n9' in cluster test (members: n1, n2, n3)", await ProblemAsync(unknown, HttpStatusCode.NotFound));
        using (var unknownTarget = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/switchover", "{\"to\": \"n9\"}"))
            await ProblemAsync(unknownTarget, HttpStatusCode.NotFound);

        // The CLI says the same with its exit codes: 4 not authorized, 1 refused.
        var noToken = await PghaProcess.RunAsync("pause", "--url", Agents.ApiUrl("n3"));
        Assert.Equal(4, noToken.ExitCode);
        Assert.StartsWith("pgha: not authorized (give a token with --token or $PGHA_TOKEN)", noToken.Error, StringComparison.Ordinal);
        var notANode = await PghaProcess.RunAsync("nodes", "detach", "n9", "--url", Agents.ApiUrl("n3"), "--token", Agents.ApiToken);
        Assert.Equal((1, "pgha: unknown node 'n9' in cluster test (members: n1, n2, n3) (404 from POST /api/v1/nodes/n9/detach)"), (notANode.ExitCode, notANode.Error.Trim()));

        await NothingRecordedSinceAsync(before.Version);
    }

    [Fact]
    public async Task refuses_a_switchover_or_failover_the_cluster_cannot_take_with_the_reason_and_records_nothing()
    {
        var before = await SteadyAsync();
        var primary = before.Primary!;
        var replica = before.Nodes.Keys.First(n => n != primary);
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl(replica)), Timeout = TimeSpan.FromSeconds(30) };

        using (var self = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/switchover", $"{{\"to\": \"{primary}\"}}"))
            Assert.Equal($"cluster test: SwitchoverRequested refused: {primary} is already the primary", await ProblemAsync(self, HttpStatusCode.Conflict));

        // A target that has not replayed what the primary wrote: refused before anything is recorded.
        await using (var target = new Npgsql.NpgsqlConnection(Agents.ConnectionString(replica) + ";Pooling=false"))
        {
            await target.OpenAsync();
            await using (var pause = new Npgsql.NpgsqlCommand("SELECT pg_wal_replay_pause()", target)) await pause.ExecuteNonQueryAsync();
            try
            {
                await using (var writer = new Npgsql.NpgsqlConnection(Agents.ConnectionString(primary) + ";Pooling=false"))
                {
                    await writer.OpenAsync();
                    await using var fill = new Npgsql.NpgsqlCommand("DROP TABLE IF EXISTS api_filler; CREATE TABLE api_filler AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 4000)", writer);
                    await fill.ExecuteNonQueryAsync();
                }
                using var lagging = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/switchover", $"{{\"to\": \"{replica}\"}}");
                Assert.Matches($@"^cluster test: SwitchoverRequested refused: {replica} lags \d+ bytes behind {primary}, over switchover.max_lag \(1048576\)$", await ProblemAsync(lagging, HttpStatusCode.Conflict));
            }
            finally
            {
                await using var resume = new Npgsql.NpgsqlCommand("SELECT pg_wal_replay_resume()", target);
                await resume.ExecuteNonQueryAsync();
            }
        }

        using (var healthy = await SendAsync(http, HttpMethod.Post, "/api/v1/nodes/" + replica + "/promote?wait=30s", null))
            Assert.Contains($"the primary {primary} is healthy", await ProblemAsync(healthy, HttpStatusCode.Conflict), StringComparison.Ordinal);
        var afterRefusedPromote = (await Agents.StateAsync())!.Version;

        using (var paused = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"reason\": \"api test\"}"))
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        var whilePaused = (await Agents.StateAsync())!.Version;
        try
        {
            using var failover = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/failover", $"{{\"to\": \"{replica}\"}}");
            Assert.Equal("cluster test: FailoverRequested refused: cluster test is paused (api test): add --force to fail over anyway", await ProblemAsync(failover, HttpStatusCode.Conflict));
            await NothingRecordedSinceAsync(whilePaused);
        }
        finally
        {
            using var resumed = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/resume", null);
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }

        // The coordinator's refusal of the promote (a FailoverRequested it answered) is the only thing the
        // refused requests left; the others recorded nothing.
        var history = await HistorySinceAsync(before.Version);
        Assert.Equal(["FailoverRequested", "FailoverFailed", "FailoverPaused", "FailoverResumed"],
            history.Where(e => e.Event is FailoverRequested or FailoverFailed or FailoverPaused or FailoverResumed or SwitchoverRequested).Select(e => e.Event.GetType().Name));
        Assert.DoesNotContain(history.Where(e => e.Version <= afterRefusedPromote), e => e.Event is SwitchoverRequested);
    }

    [Fact]
    public async Task pauses_and_resumes_naming_who_asked()
    {
        var before = await SteadyAsync();
        var caller = await PghaProcess.RunAsync("pause", "--url", Agents.ApiUrl("n1"), "--token", Agents.ApiToken, "--reason", "storage maintenance");
        Assert.True(caller.ExitCode == 0, caller.Error);
        Assert.StartsWith("cluster test: automatic failover paused at version ", caller.Output, StringComparison.Ordinal);
        Assert.True((await Agents.StateAsync())!.Paused);
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl("n3")), Timeout = TimeSpan.FromSeconds(30) };
        using (var again = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", null))
            Assert.Equal("cluster test: FailoverPaused refused: cluster test is already paused", await ProblemAsync(again, HttpStatusCode.Conflict));
        using (var resumed = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/resume", "{\"reason\": \"done\"}"))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
            using var answer = JsonDocument.Parse(await resumed.Content.ReadAsStringAsync());
            Assert.StartsWith("cluster test: automatic failover resumed at version ", answer.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        var history = await HistorySinceAsync(before.Version);
        var paused = history.Select(e => e.Event).OfType<FailoverPaused>().Single();
        var resumedEvent = history.Select(e => e.Event).OfType<FailoverResumed>().Single();
        Assert.Equal((Initiator.User("api:token@127.0.0.1"), "storage maintenance"), (paused.By, paused.Reason));
        Assert.Equal((Initiator.User("api:token@127.0.0.1"), "done"), (resumedEvent.By, resumedEvent.Reason));
        Assert.False((await Agents.StateAsync())!.Paused);
    }

    [Fact]
    public async Task refuses_a_rolling_restart_while_paused_and_a_cancel_with_nothing_running()
    {
        await SteadyAsync();
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl("n2")), Timeout = TimeSpan.FromSeconds(30) };
        using (var anonymous = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/restart", null, token: null))
            await ProblemAsync(anonymous, HttpStatusCode.Unauthorized);
        using (var cancel = await SendAsync(http, HttpMethod.Delete, "/api/v1/cluster/restart", null))
            Assert.Equal("cluster test: no rolling restart is in progress", await ProblemAsync(cancel, HttpStatusCode.Conflict));
        // Whatever earlier tests left pending a restart, a paused cluster refuses a rolling restart.
        using (var paused = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"reason\": \"restart test\"}"))
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        var whilePaused = (await Agents.StateAsync())!.Version;
        try
        {
            using (var restart = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/restart?wait=5s", "{\"reason\": \"while paused\"}"))
                Assert.Equal("cluster test: RollingRestartRequested refused: cluster test is paused (restart test): resume it before a rolling restart", await ProblemAsync(restart, HttpStatusCode.Conflict));
            var run = await PghaProcess.RunAsync("restart", "--rolling", "--url", Agents.ApiUrl("n1"), "--token", Agents.ApiToken);
            Assert.Equal(1, run.ExitCode);
            Assert.Contains("resume it before a rolling restart", run.Error, StringComparison.Ordinal);
            await NothingRecordedSinceAsync(whilePaused);
        }
        finally
        {
            using var resumed = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/resume", null);
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }
    }

    [Fact]
    public async Task switches_over_to_a_replica_and_answers_when_it_is_done()
    {
        var before = await SteadyAsync();
        var to = before.Nodes.Keys.First(n => n != before.Primary);
        var run = await PghaProcess.RunAsync("switchover", "--to", to, "--url", Agents.ApiUrl(to), "--token", Agents.ApiToken, "--timeout", "90s");
        Assert.True(run.ExitCode == 0, $"{run.Output}{run.Error}\n{Agents.AgentLogs()}");
        Assert.Contains($"{to} is the primary; writes paused", run.Output, StringComparison.Ordinal);
        output.WriteLine(run.Output.Trim());

        var history = await HistorySinceAsync(before.Version);
        var requested = history.Select(e => e.Event).OfType<SwitchoverRequested>().Single();
        Assert.Equal((before.Primary, to, Initiator.User("api:token@127.0.0.1")), (requested.From, requested.To, requested.By));
        Assert.Contains(history, e => e.Event is SwitchoverCompleted c && c.SwitchoverId == requested.SwitchoverId);
        await Agents.WaitForStateAsync(s => s.Primary == to && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy), AgentScenario.Long, $"{to} primary, every node healthy");
    }

    [Fact]
    public async Task sets_a_parameter_on_every_node_and_refuses_an_invalid_one()
    {
        var before = await SteadyAsync();
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl("n1")), Timeout = TimeSpan.FromSeconds(30) };
        using (var invalid = await SendAsync(http, HttpMethod.Patch, "/api/v1/cluster/postgresql", "{\"work_mem\": \"lots\"}"))
            Assert.StartsWith("cluster test: parameters refused, nothing recorded: work_mem: 'lots' is not a valid amount of memory", await ProblemAsync(invalid, (HttpStatusCode)422), StringComparison.Ordinal);
        using (var unknown = await SendAsync(http, HttpMethod.Patch, "/api/v1/cluster/postgresql", "{\"no_such_parameter\": 1}"))
            Assert.EndsWith("unknown parameter 'no_such_parameter'", await ProblemAsync(unknown, (HttpStatusCode)422), StringComparison.Ordinal);
        await NothingRecordedSinceAsync(before.Version);

        using (var set = await SendAsync(http, HttpMethod.Patch, "/api/v1/cluster/postgresql", "{\"work_mem\": \"24MB\", \"reason\": \"sorts spill\"}"))
            Assert.True(set.StatusCode == HttpStatusCode.OK, await set.Content.ReadAsStringAsync());
        foreach (var node in Agents.Nodes)
            await Eventually.HoldsAsync(() => ShowAsync(node, "work_mem"), shown => shown == "24MB", AgentScenario.Long, $"SHOW work_mem on {node} to give 24MB");
        var changed = (await HistorySinceAsync(before.Version)).Select(e => e.Event).OfType<PostgresParametersChanged>().Single();
        Assert.Equal(("24MB", Initiator.User("api:token@127.0.0.1")), (changed.Changes["work_mem"], changed.By));

        using (var shown = await SendAsync(http, HttpMethod.Get, "/api/v1/cluster/postgresql", null, token: null))
        {
            Assert.Equal(HttpStatusCode.OK, shown.StatusCode); // reads are open by default
            using var view = JsonDocument.Parse(await shown.Content.ReadAsStringAsync());
            Assert.Equal("24MB", view.RootElement.GetProperty("parameters").GetProperty("work_mem").GetString());
        }
        using (var reset = await SendAsync(http, HttpMethod.Delete, "/api/v1/cluster/postgresql/work_mem", null))
            Assert.True(reset.StatusCode == HttpStatusCode.OK, await reset.Content.ReadAsStringAsync());
        foreach (var node in Agents.Nodes)
            await Eventually.HoldsAsync(() => ShowAsync(node, "work_mem"), shown => shown == "4MB", AgentScenario.Long, $"SHOW work_mem on {node} back to 4MB");
    }

    [Fact]
    public async Task reloads_the_token_from_its_file_and_keeps_the_last_good_configuration_when_the_file_is_invalid()
    {
        var file = Agents.Configs["n3"];
        var original = await File.ReadAllTextAsync(file);
        var newToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl("n3")), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await File.WriteAllTextAsync(file, original.Replace(Agents.ApiToken, newToken, StringComparison.Ordinal).Replace("health: { interval: 500ms }", "health: { interval: 400ms }", StringComparison.Ordinal));
            using (var reloaded = await SendAsync(http, HttpMethod.Post, "/api/v1/control/reload", null))
            {
                var body = await reloaded.Content.ReadAsStringAsync();
                Assert.True(reloaded.StatusCode == HttpStatusCode.OK, body);
                using var answer = JsonDocument.Parse(body);
                Assert.Equal(["api.token"], answer.RootElement.GetProperty("applied").EnumerateArray().Select(k => k.GetString()));
                Assert.Equal(["health.interval"], answer.RootElement.GetProperty("restart_needed").EnumerateArray().Select(k => k.GetString()));
            }
            using (var old = await SendAsync(http, HttpMethod.Post, "/api/v1/control/reload", null))
                await ProblemAsync(old, HttpStatusCode.Forbidden);

            await File.WriteAllTextAsync(file, original.Replace(Agents.ApiToken, "short", StringComparison.Ordinal));
            using (var invalid = await SendAsync(http, HttpMethod.Post, "/api/v1/control/reload", null, newToken))
                Assert.StartsWith("n3.yaml: api.token is 5 characters long", await ProblemAsync(invalid, HttpStatusCode.BadRequest), StringComparison.Ordinal);
            using (var stillNew = await SendAsync(http, HttpMethod.Post, "/api/v1/control/reload", null, newToken))
                await ProblemAsync(stillNew, HttpStatusCode.BadRequest); // the new token is still the one in force
        }
        finally
        {
            await File.WriteAllTextAsync(file, original);
            using var restored = await SendAsync(http, HttpMethod.Post, "/api/v1/control/reload", null, newToken);
            Assert.True(restored.StatusCode == HttpStatusCode.OK, await restored.Content.ReadAsStringAsync());
        }
        var cli = await PghaProcess.RunAsync("reload", "--config", file);
        Assert.True(cli.ExitCode == 0, cli.Error);
        Assert.Contains("reloaded", cli.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_sighup_reloads_the_token_and_keeps_the_last_good_configuration_when_the_file_is_invalid()
    {
        var file = Agents.Configs["n3"];
        var agent = Agents.Agent("n3");
        var original = await File.ReadAllTextAsync(file);
        var newToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        using var http = new HttpClient { BaseAddress = new Uri(Agents.ApiUrl("n3")), Timeout = TimeSpan.FromSeconds(30) };
        var hangups = 0;
        try
        {
            // A refused request changes nothing, so the new token can only come into force through the signal.
            await File.WriteAllTextAsync(file, original.Replace(Agents.ApiToken, newToken, StringComparison.Ordinal));
            using (var early = await SendAsync(http, HttpMethod.Post, "/api/v1/control/reload", null, newToken))
                await ProblemAsync(early, HttpStatusCode.Forbidden);
            agent.Signal("HUP");
            hangups++;
            await agent.WaitForOutputAsync("SIGHUP: node n3: n3.yaml reloaded; applied: api.token", AgentScenario.Long);
            await Eventually.HoldsAsync(async () =>
            {
                using var probe = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"to\": 1}", newToken);
                return probe.StatusCode;
            }, status => status == HttpStatusCode.BadRequest, AgentScenario.Long, "the new token accepted (a malformed pause: 400, nothing recorded)");
            using (var old = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"to\": 1}"))
                Assert.Contains("not node n3's api.token", await ProblemAsync(old, HttpStatusCode.Forbidden), StringComparison.Ordinal);

            // An invalid file on SIGHUP: logged, and the new token stays in force (the old one stays refused).
            await File.WriteAllTextAsync(file, original.Replace(Agents.ApiToken, "short", StringComparison.Ordinal));
            agent.Signal("HUP");
            hangups++;
            await agent.WaitForOutputAsync("n3.yaml: api.token is 5 characters long", AgentScenario.Long);
            Assert.Contains("nothing was changed: node n3 keeps its last good configuration", agent.Output, StringComparison.Ordinal);
            using (var still = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"to\": 1}", newToken))
                Assert.Contains("unknown field 'to'", await ProblemAsync(still, HttpStatusCode.BadRequest), StringComparison.Ordinal);
            using (var refused = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"to\": 1}", "short"))
                await ProblemAsync(refused, HttpStatusCode.Forbidden);
        }
        finally
        {
            await File.WriteAllTextAsync(file, original);
            if (hangups > 0)
            {
                agent.Signal("HUP");
                await Eventually.HoldsAsync(async () =>
                {
                    using var probe = await SendAsync(http, HttpMethod.Post, "/api/v1/cluster/pause", "{\"to\": 1}");
                    return probe.StatusCode;
                }, status => status == HttpStatusCode.BadRequest, AgentScenario.Long, "the cluster's token accepted again on n3");
            }
        }
    }

    /// <summary>Waits until the cluster is quiet: a primary, every node healthy and attached, nothing paused or under way.</summary>
    private Task<ClusterState> SteadyAsync() => Agents.WaitForStateAsync(
        s => s.Primary is not null && !s.Paused && s.Switchover is null && s.Failover is null && s.RequestedFailover is null
             && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy && !n.Detached),
        AgentScenario.Long, "a steady cluster");

    private async Task<IReadOnlyList<RecordedEvent>> HistorySinceAsync(long version) => [.. (await Agents.HistoryAsync()).Where(e => e.Version > version)];

    /// <summary>Agents keep recording what they observe; no operator's event may follow a refused request.</summary>
    private async Task NothingRecordedSinceAsync(long version) =>
        Assert.DoesNotContain(await HistorySinceAsync(version), e => e.Event.By.Kind == InitiatorKind.User);

    private Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, string? json) => SendAsync(http, method, path, json, Agents.ApiToken);

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, string? json, string? token)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http.SendAsync(request);
    }

    /// <summary>Checks the status and that the answer is a problem detail; returns its detail.</summary>
    private static async Task<string> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} instead of {(int)status}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("about:blank", problem.RootElement.GetProperty("type").GetString()); // one shape for every problem (docs/api.md)
        Assert.Equal(response.RequestMessage!.RequestUri!.AbsolutePath, problem.RootElement.GetProperty("instance").GetString());
        return problem.RootElement.GetProperty("detail").GetString()!;
    }

    private async Task<string> ShowAsync(string node, string parameter)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Agents.ConnectionString(node) + ";Pooling=false");
        await connection.OpenAsync();
        await using var show = new Npgsql.NpgsqlCommand($"SHOW {parameter}", connection);
        return (string)(await show.ExecuteScalarAsync())!;
    }
}
