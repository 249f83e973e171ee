using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// `nofailover: true` (pgha.yaml): the node replicates and serves reads, but the coordinator never promotes
/// it — not even when it is the most advanced replica — and says so in every FailoverStarted.
/// </summary>
public sealed class a_nofailover_node(ITestOutputHelper output)
{
    [Fact]
    public async Task is_never_chosen_over_two_failovers()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, NoFailover = new HashSet<string> { "n2" } });
        var bootstrapped = await AgentScenario.BootstrappedAsync(agents);
        Assert.True(bootstrapped.Nodes["n2"].NoFailover);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        agents.KillPostgres("n1");
        await agents.WaitForStateAsync(s => s.Primary == "n3" && s.Failover is null, AgentScenario.Long, "n3 promoted, not n2");
        await agents.WaitForStateAsync(s => s.Nodes["n1"].Role == NodeRole.Replica && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy), AgentScenario.Long, "n1 back as a replica");
        await writes.WaitForAcknowledgedOnAsync("n3", 20, AgentScenario.Long);

        agents.KillPostgres("n3");
        await agents.WaitForStateAsync(s => s.Primary == "n1" && s.Failover is null, AgentScenario.Long, "n1 promoted, not n2");
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        var history = await agents.HistoryAsync();
        var failovers = history.Select(e => e.Event).OfType<FailoverStarted>().ToList();
        Assert.Equal(["n3", "n1"], failovers.Select(f => f.Candidate));
        Assert.All(failovers, f => Assert.Equal("nofailover is set", f.Candidates.Single(c => c.Node == "n2").RejectedBecause));
        Assert.DoesNotContain(history, e => e.Event is DirectiveIssued { Kind: DirectiveKind.Promote, Node: "n2" });
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
