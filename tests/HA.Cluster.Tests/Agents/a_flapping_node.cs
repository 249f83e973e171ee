using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Flapping (DESIGN §11): a replica's PostgreSQL and then the primary's crash again and again. Each is
/// restarted in place by its agent (the primary within primary_restart_timeout), the cluster never
/// fails over back and forth, the history records each health change, and no write is lost.
/// </summary>
public sealed class a_flapping_node(ITestOutputHelper output)
{
    [Fact]
    public async Task is_restarted_each_time_and_never_makes_the_cluster_fail_over()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.FromSeconds(60) });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        var node = agents.Cluster.Cluster;

        foreach (var (victim, round) in new[] { ("n3", 1), ("n3", 2), ("n3", 3), ("n1", 1), ("n1", 2), ("n1", 3) })
        {
            await Eventually.HoldsAsync(() => Task.FromResult(node.Node(victim).ServerProcessId()), pid => pid is not null, AgentScenario.Long, $"{victim} running before crash {round}");
            await writes.WaitForAcknowledgedOnAsync("n1", 10, AgentScenario.Long);
            agents.KillPostgres(victim);
            await Eventually.HoldsAsync(() => Task.FromResult(node.Node(victim).ServerProcessId()), pid => pid is null, TimeSpan.FromSeconds(10), $"{victim}'s postmaster to die ({round})");
        }
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var settled = await agents.WaitForStateAsync(s => s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy), AgentScenario.Long, "every node healthy again");

        var history = await agents.HistoryAsync();
        Assert.Equal(("n1", 1L), (settled.Primary, settled.PrimaryTerm));
        Assert.DoesNotContain(history, e => e.Event is FailoverStarted or PrimaryChanged);
        Assert.Contains(history, e => e.Event is NodeHealthChanged { Node: "n3", Health: NodeHealth.Unhealthy });
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }
}
