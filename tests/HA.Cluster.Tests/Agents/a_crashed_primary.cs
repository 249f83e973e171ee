using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// kill -9 of the primary's postmaster while its agent lives (DESIGN §5 (a)): with
/// primary_restart_timeout 0 a replica is promoted at once and the old primary comes back as a
/// replica by itself; with a restart timeout the agent restarts it in place and nothing fails over.
/// A client commits throughout; the history checker holds the run to DESIGN §3.
/// </summary>
public sealed class a_crashed_primary(ITestOutputHelper output)
{
    [Fact]
    public async Task fails_over_at_once_without_a_restart_timeout_and_the_old_primary_rejoins_as_a_replica()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        await writes.WaitForAcknowledgedOnAsync(promoted.Primary!, 20, AgentScenario.Long);
        var rejoined = await agents.WaitForStateAsync(s => s.Nodes["n1"].Role == NodeRole.Replica && s.Nodes["n1"].Health == NodeHealth.Healthy, AgentScenario.Long, "n1 rejoins as a healthy replica");

        var history = await agents.HistoryAsync();
        var started = Assert.Single(history.Select(e => e.Event).OfType<FailoverStarted>());
        Assert.Equal("n1", started.OldPrimary);
        Assert.StartsWith("agent of n1 reports PostgreSQL down", started.Trigger, StringComparison.Ordinal);
        Assert.Contains(history, e => e.Event is NodeRejoined { Node: "n1" });
        Assert.Equal(promoted.Primary, rejoined.Primary);

        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }

    [Fact]
    public async Task is_restarted_in_place_within_the_restart_timeout_and_nothing_fails_over()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.FromSeconds(60) });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        agents.KillPostgres("n1");
        await Eventually.HoldsAsync(() => Task.FromResult(agents.Cluster.Cluster.Node("n1").ServerProcessId()), pid => pid is null, TimeSpan.FromSeconds(10), "the postmaster to die");
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        var state = await agents.StateAsync();
        Assert.Equal(("n1", 1L), (state!.Primary, state.PrimaryTerm));
        Assert.DoesNotContain(await agents.HistoryAsync(), e => e.Event is FailoverStarted);
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }
}
