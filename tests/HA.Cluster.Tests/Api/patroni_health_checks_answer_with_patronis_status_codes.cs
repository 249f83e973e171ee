using HA.Agent.Postgres;
using HA.Cluster.Tests.Agents;
using HA.Core.Events;
using HA.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Api;

/// <summary>
/// The Patroni-compatible health endpoints (docs/api.md) over real HTTP on a running cluster: 200 or
/// 503 on the primary, a replica and a stopped node for each path, with GET, HEAD and OPTIONS;
/// <c>?lag=</c> in bytes and in time against a standby whose replay is paused; tags; and a lag that
/// cannot be read is refused with 400. The bare root answers as <c>/primary</c> does, as Patroni's.
/// </summary>
public sealed class patroni_health_checks_answer_with_patronis_status_codes(ITestOutputHelper output)
{
    private static readonly string[] Paths = ["/", "/primary", "/master", "/read-write", "/leader", "/replica", "/read-only", "/synchronous", "/asynchronous", "/health", "/liveness", "/readiness"];

    private static async Task<string> StatusesAsync(string url) =>
        string.Join(" ", await Task.WhenAll(Paths.Select(async p => $"{p}={await ApiClient.StatusAsync(url + p)}")));

    [Fact]
    public async Task on_the_primary_a_replica_and_a_stopped_node()
    {
        await using var agents = await AgentCluster.StartAsync();
        try
        {
            await CheckAsync(agents);
        }
        catch
        {
            output.WriteLine(agents.AgentLogs());
            throw;
        }
    }

    private async Task CheckAsync(AgentCluster agents)
    {
        await AgentScenario.BootstrappedAsync(agents);
        var (n1, n2, n3) = (ApiClient.Url(agents, "n1"), ApiClient.Url(agents, "n2"), ApiClient.Url(agents, "n3"));

        const string primary = "/=200 /primary=200 /master=200 /read-write=200 /leader=200 /replica=503 /read-only=200 /synchronous=503 /asynchronous=503 /health=200 /liveness=200 /readiness=200";
        const string replica = "/=503 /primary=503 /master=503 /read-write=503 /leader=503 /replica=200 /read-only=200 /synchronous=503 /asynchronous=200 /health=200 /liveness=200 /readiness=200";
        await Eventually.HoldsAsync(() => StatusesAsync(n1), s => s == primary, AgentScenario.Long, "n1 to answer as the primary");
        await Eventually.HoldsAsync(() => StatusesAsync(n2), s => s == replica, AgentScenario.Long, "n2 to answer as a replica");
        output.WriteLine((await ApiClient.SendAsync(n1 + "/primary")).Body);
        output.WriteLine((await ApiClient.SendAsync(n2 + "/replica")).Body);

        // HEAD answers the status alone; OPTIONS (HAProxy's default check method, in Patroni's example configuration) the same status.
        Assert.Equal((System.Net.HttpStatusCode.OK, ""), await ApiClient.SendAsync(n1 + "/primary", HttpMethod.Head));
        Assert.Equal((System.Net.HttpStatusCode.ServiceUnavailable, ""), await ApiClient.SendAsync(n2 + "/primary", HttpMethod.Head));
        Assert.Equal((200, 503), (await ApiClient.StatusAsync(n1 + "/primary", HttpMethod.Options), await ApiClient.StatusAsync(n2 + "/primary", HttpMethod.Options)));
        Assert.Equal((System.Net.HttpStatusCode.OK, ""), await ApiClient.SendAsync(n2 + "/replica", HttpMethod.Head));
        // The bare root, as Patroni's: /primary's status and its JSON document; HEAD the status alone.
        Assert.Equal((System.Net.HttpStatusCode.OK, ""), await ApiClient.SendAsync(n1 + "/", HttpMethod.Head));
        Assert.Equal((System.Net.HttpStatusCode.ServiceUnavailable, ""), await ApiClient.SendAsync(n2 + "/", HttpMethod.Head));
        var root = await ApiClient.SendAsync(n2 + "/");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, root.Status);
        using (var document = System.Text.Json.JsonDocument.Parse(root.Body))
            Assert.Equal(("replica", "n2", "fails"), (document.RootElement.GetProperty("role").GetString(), document.RootElement.GetProperty("node").GetString(), document.RootElement.GetProperty("check").GetString()));

        // Tags, as Patroni's ?tag_key=value: every tag named must have the value asked.
        Assert.Equal(200, await ApiClient.StatusAsync(n2 + "/replica?nofailover=false&noloadbalance=false"));
        Assert.Equal(503, await ApiClient.StatusAsync(n2 + "/replica?nofailover=true"));
        Assert.Equal(503, await ApiClient.StatusAsync(n2 + "/replica?no_such_tag=x"));
        Assert.Equal(400, await ApiClient.StatusAsync(n2 + "/replica?lag=fast"));

        // Lag: n2 stops replaying while n1 writes.
        await using (var connection = new NpgsqlConnection(agents.ConnectionString("n2")))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand("SELECT pg_wal_replay_pause()", connection).ExecuteNonQueryAsync();
        }
        await using (var connection = new NpgsqlConnection(agents.ConnectionString("n1")))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE lagging AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 20000) AS g", connection).ExecuteNonQueryAsync();
        }
        await Eventually.HoldsAsync(() => ApiClient.SendAsync(n2 + "/replica?lag=64kB"), s => (int)s.Status == 503, AgentScenario.Long, "n2 /replica?lag=64kB to answer 503 while its replay is paused");
        await Eventually.HoldsAsync(() => ApiClient.SendAsync(n2 + "/replica?lag=1s"), s => (int)s.Status == 503, AgentScenario.Long, "n2 /replica?lag=1s to answer 503 while its replay is paused");
        Assert.Equal(200, await ApiClient.StatusAsync(n2 + "/replica?lag=1GB"));
        Assert.Equal(200, await ApiClient.StatusAsync(n2 + "/replica?lag=1h"));
        Assert.Equal(503, await ApiClient.StatusAsync(n2 + "/read-only?lag=64kB"));
        Assert.Equal(200, await ApiClient.StatusAsync(n1 + "/read-only?lag=64kB"));
        output.WriteLine((await ApiClient.SendAsync(n2 + "/replica?lag=64kB")).Body);
        await using (var connection = new NpgsqlConnection(agents.ConnectionString("n2")))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand("SELECT pg_wal_replay_resume()", connection).ExecuteNonQueryAsync();
        }
        await Eventually.HoldsAsync(() => ApiClient.StatusAsync(n2 + "/replica?lag=64kB"), s => s == 200, AgentScenario.Long, "n2 /replica?lag=64kB to answer 200 once it replays again");

        // A detached node is out of load balancing (Patroni's noloadbalance); stopped, it fails every check but /liveness.
        var detached = await PghaProcess.RunAsync("detach", "--config", agents.Configs["n2"], "--node", "n3", "--reason", "health checks");
        Assert.True(detached.ExitCode == 0, detached.Error);
        await Eventually.HoldsAsync(() => ApiClient.StatusAsync(n3 + "/replica"), s => s == 503, AgentScenario.Long, "n3 /replica to answer 503 once detached");
        Assert.Equal(200, await ApiClient.StatusAsync(n3 + "/health"));
        await agents.Cluster.Cluster.Node("n3").StopAsync(StopMode.Fast, default);
        await agents.WaitForStateAsync(s => s.Nodes["n3"].Health == NodeHealth.Unhealthy, AgentScenario.Long, "the coordinator sees n3 stopped");
        const string stopped = "/=503 /primary=503 /master=503 /read-write=503 /leader=503 /replica=503 /read-only=503 /synchronous=503 /asynchronous=503 /health=503 /liveness=200 /readiness=503";
        await Eventually.HoldsAsync(() => StatusesAsync(n3), s => s == stopped, AgentScenario.Long, "n3 to answer as a stopped node");
        output.WriteLine((await ApiClient.SendAsync(n3 + "/health")).Body);
    }
}
