using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// A whole node lost — its agent and its PostgreSQL killed together (DESIGN §5 (b)): nobody can
/// acknowledge FENCE, so the coordinator promotes only once the primary lease has expired, never
/// before; the node rejoins when its agent comes back. And the coordinator itself killed in the
/// middle of such a failover: the next coordinator finishes it from the log.
/// </summary>
public sealed class a_lost_node(ITestOutputHelper output)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task the_primarys_node_is_replaced_after_its_lease_expires_never_before_and_rejoins_when_it_returns()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { LeaseTtl = Ttl, FenceMargin = TimeSpan.FromSeconds(3) });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        var killedAt = DateTimeOffset.UtcNow;
        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        await writes.WaitForAcknowledgedOnAsync(promoted.Primary!, 20, AgentScenario.Long);

        var history = await agents.HistoryAsync();
        var fenced = Assert.Single(history, e => e.Event is NodeFenced { Node: "n1" });
        Assert.Contains("primary lease", ((NodeFenced)fenced.Event).How, StringComparison.Ordinal);
        // The lease was renewed at most ttl/3 before the kill, so it could not expire sooner than 2/3 ttl after it.
        var changed = history.Single(e => e.Event is PrimaryChanged);
        Assert.True(changed.At - killedAt >= Ttl * 2 / 3, $"promoted {(changed.At - killedAt).TotalSeconds:0.00} s after the kill, before the lease could have expired");

        agents.StartAgent("n1");
        await agents.WaitForStateAsync(s => s.Nodes["n1"].Role == NodeRole.Replica && s.Nodes["n1"].Health == NodeHealth.Healthy, AgentScenario.Long, "n1 rejoins as a healthy replica");
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }

    [Fact]
    public async Task a_coordinator_killed_in_the_middle_of_a_failover_is_replaced_and_its_successor_finishes_it()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { LeaseTtl = Ttl, FenceMargin = TimeSpan.FromSeconds(3) }, startAgents: false);
        // n2 campaigns first, so the coordinator is not on the node that will be lost.
        await AgentScenario.StartWithCoordinatorAsync(agents, "n2");
        var before = await AgentScenario.BootstrappedAsync(agents);
        Assert.Equal("n2", before.Coordinator);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        // The failover has started and waits for n1's lease to expire: its coordinator dies now.
        var started = await agents.WaitForStateAsync(s => s.Failover is not null, AgentScenario.Long, "the coordinator starts a failover");
        agents.KillAgent("n2");
        agents.StartAgent("n2");

        var after = await agents.WaitForStateAsync(s => s.Failover is null && s.Primary is "n2" or "n3", AgentScenario.Long, "the failover finished by the next coordinator");
        await writes.WaitForAcknowledgedOnAsync(after.Primary!, 20, AgentScenario.Long);
        Assert.True(after.CoordinatorToken > before.CoordinatorToken, $"coordinator token {after.CoordinatorToken} after, {before.CoordinatorToken} before");

        var history = await agents.HistoryAsync();
        var failover = history.Where(e => e.Event.CorrelationId == started.Failover!.Id).ToList();
        Assert.Equal(before.CoordinatorToken, failover.First(e => e.Event is FailoverStarted).FencingToken);
        Assert.Equal(after.CoordinatorToken, failover.Single(e => e.Event is FailoverCompleted).FencingToken);
        Assert.Contains(history, e => e.Event is CoordinatorElected c && c.FencingToken == after.CoordinatorToken && e.Version > failover[0].Version);

        agents.StartAgent("n1");
        await agents.WaitForStateAsync(s => s.Nodes["n1"].Role == NodeRole.Replica && s.Nodes["n1"].Health == NodeHealth.Healthy, AgentScenario.Long, "n1 rejoins as a healthy replica");
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
