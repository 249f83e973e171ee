using HA.Agent.Postgres;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Maintenance (DESIGN §5): `pgha detach` takes a replica out of candidacy and routing, and its agent
/// leaves its PostgreSQL alone (stopped by the operator, it stays stopped); a failover meanwhile never
/// chooses it and says why. `pgha attach` brings it back: started and repointed to the new primary.
/// Detaching the primary is refused with the reason.
/// </summary>
public sealed class a_detached_node(ITestOutputHelper output)
{
    [Fact]
    public async Task is_never_chosen_is_left_alone_by_its_agent_and_follows_the_primary_once_attached()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        var primary = await PghaProcess.RunAsync("detach", "--config", agents.Configs["n2"], "--node", "n1");
        Assert.Equal((1, "pgha: cluster test: NodeDetached refused: n1 is the primary: switch over to another node before detaching it (409 from POST /api/v1/nodes/n1/detach)"), (primary.ExitCode, primary.Error.Trim()));
        var detached = await PghaProcess.RunAsync("detach", "--config", agents.Configs["n2"], "--node", "n3", "--reason", "disk swap");
        Assert.Equal(0, detached.ExitCode);
        Assert.True((await agents.StateAsync())!.Nodes["n3"].Detached);
        var switchover = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n2"], "--to", "n3");
        Assert.Equal((1, "pgha: cluster test: SwitchoverRequested refused: n3 is detached for maintenance (disk swap) (409 from POST /api/v1/cluster/switchover?wait=60000ms)"), (switchover.ExitCode, switchover.Error.Trim()));
        var failover = await PghaProcess.RunAsync("failover", "--config", agents.Configs["n2"], "--to", "n3");
        Assert.Equal((1, "pgha: cluster test: FailoverRequested refused: n3 is detached for maintenance (disk swap) (409 from POST /api/v1/cluster/failover?wait=60000ms)"), (failover.ExitCode, failover.Error.Trim()));

        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        Assert.Equal("n2", promoted.Primary);
        var started = (await agents.HistoryAsync()).Select(e => e.Event).OfType<FailoverStarted>().Single();
        Assert.Equal("detached for maintenance (disk swap)", started.Candidates.Single(c => c.Node == "n3").RejectedBecause);

        // The operator stops n3 for the maintenance: its agent does not start it again.
        var n3 = agents.Cluster.Cluster.Node("n3");
        await n3.StopAsync(StopMode.Fast, default);
        await agents.WaitForStateAsync(s => s.Nodes["n3"].Health == NodeHealth.Unhealthy, AgentScenario.Long, "the coordinator sees n3 stopped");
        await Task.Delay(TimeSpan.FromSeconds(4)); // several agent rounds
        Assert.Null(n3.ServerProcessId());

        var attached = await PghaProcess.RunAsync("attach", "--config", agents.Configs["n2"], "--node", "n3");
        Assert.Equal(0, attached.ExitCode);
        await agents.WaitForStateAsync(s => !s.Nodes["n3"].Detached && s.Nodes["n3"].Health == NodeHealth.Healthy, AgentScenario.Long, "n3 started again once attached");
        await Eventually.HoldsAsync(async () => (await agents.Cluster.Cluster.ProbeAllAsync(default))["n2"]?.Replication.Select(c => c.ApplicationName).ToList() ?? [],
            standbys => standbys.Contains("n3"), AgentScenario.Long, "n3 streaming from the new primary n2");

        await writes.WaitForAcknowledgedOnAsync("n2", 20, AgentScenario.Long);
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
