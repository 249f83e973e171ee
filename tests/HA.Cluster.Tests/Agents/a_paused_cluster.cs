using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Paused means paused (DESIGN §3.6): `pgha pause` records FailoverPaused; the pause survives a new
/// coordinator; a primary crashing meanwhile is reported and nothing is promoted; `pgha resume` lets
/// the failover happen. A second pause, or a resume of a running cluster, is refused with a reason.
/// </summary>
public sealed class a_paused_cluster(ITestOutputHelper output)
{
    [Fact]
    public async Task promotes_nobody_until_resumed_even_across_a_coordinator_change()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero }, startAgents: false);
        await AgentScenario.StartWithCoordinatorAsync(agents, "n2"); // the coordinator is not on the primary's node
        var before = await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        var paused = await PghaProcess.RunAsync("pause", "--config", agents.Configs["n2"], "--reason", "storage maintenance");
        Assert.Equal(0, paused.ExitCode);
        Assert.StartsWith("cluster test: automatic failover paused at version ", paused.Output, StringComparison.Ordinal);
        var again = await PghaProcess.RunAsync("pause", "--config", agents.Configs["n2"]);
        Assert.Equal((1, "pgha: cluster test: FailoverPaused refused: cluster test is already paused (409 from POST /api/v1/cluster/pause)"), (again.ExitCode, again.Error.Trim()));

        // A new coordinator reads the pause from the log.
        agents.KillAgent(before.Coordinator!);
        var restarted = agents.StartAgent(before.Coordinator!);
        // Its /liveness is asked below: it must have started (on a loaded machine that takes a while).
        await restarted.WaitForOutputAsync("pgha run: node ", AgentScenario.Long);
        var newCoordinator = await agents.WaitForStateAsync(s => s.CoordinatorToken > before.CoordinatorToken, AgentScenario.Long, "a new coordinator");
        Assert.True(newCoordinator.Paused);

        agents.KillPostgres("n1");
        await agents.WaitForStateAsync(s => s.Nodes["n1"].Health == NodeHealth.Unhealthy, AgentScenario.Long, "the coordinator sees n1 down");
        await Task.Delay(TimeSpan.FromSeconds(5)); // several detection rounds: nothing may be decided
        var stillPaused = (await agents.StateAsync())!;
        Assert.Equal(("n1", 1L, true), (stillPaused.Primary, stillPaused.PrimaryTerm, stillPaused.Paused));
        Assert.DoesNotContain(await agents.HistoryAsync(), e => e.Event is FailoverStarted);

        // Paused is not dead: every agent's /liveness stays 200 (Patroni's meaning), n1 is not ready.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var node in agents.Nodes)
        {
            var liveness = await http.GetAsync(agents.ApiUrl(node) + "/liveness");
            var body = await liveness.Content.ReadAsStringAsync();
            Assert.True(liveness.StatusCode == System.Net.HttpStatusCode.OK, $"{node}: {(int)liveness.StatusCode} {body}");
            Assert.Contains("\"paused\":true", body, StringComparison.Ordinal);
            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, agents.ApiUrl(node) + "/liveness"));
            Assert.Equal(System.Net.HttpStatusCode.OK, head.StatusCode);
        }
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, (await http.GetAsync(agents.ApiUrl("n1") + "/readiness")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync(agents.ApiUrl("n2") + "/readiness")).StatusCode);

        var resumed = await PghaProcess.RunAsync("resume", "--config", agents.Configs["n3"]);
        Assert.Equal(0, resumed.ExitCode);
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "the failover once resumed");
        await writes.WaitForAcknowledgedOnAsync(promoted.Primary!, 20, AgentScenario.Long);
        var notPaused = await PghaProcess.RunAsync("resume", "--config", agents.Configs["n3"]);
        Assert.Equal((1, "pgha: cluster test: FailoverResumed refused: cluster test is not paused (409 from POST /api/v1/cluster/resume)"), (notPaused.ExitCode, notPaused.Error.Trim()));

        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
