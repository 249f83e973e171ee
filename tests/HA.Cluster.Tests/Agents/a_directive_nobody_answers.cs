using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Directives expire (DESIGN §1): a REPOINT sent to a replica whose agent is down is answered by
/// nobody; the coordinator records it as expired (to be issued again) and, once the agent is back,
/// repoints the replica again, which then follows the new primary.
/// </summary>
public sealed class a_directive_nobody_answers(ITestOutputHelper output)
{
    [Fact]
    public async Task expires_with_an_event_and_is_issued_again_when_the_agent_returns()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, DirectiveTimeout = TimeSpan.FromSeconds(4) });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);

        agents.KillAgent("n3"); // its PostgreSQL streams on, but nobody will answer for it
        await agents.WaitForStateAsync(s => s.Nodes["n3"].Health == NodeHealth.Unreachable, AgentScenario.Long, "n3 unreachable");
        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary == "n2" && s.Failover is null, AgentScenario.Long, "n2 promoted (n3 has no agent to vouch for it)");

        await agents.WaitForStateAsync(s => s.Version > promoted.Version && !s.PendingDirectives.Values.Any(d => d.Node == "n3"), AgentScenario.Long, "the REPOINT of n3 expires");
        var history = await agents.HistoryAsync();
        var expiry = Assert.Single(history.Select(e => e.Event).OfType<DirectiveExpired>(), x => x.Node == "n3");
        Assert.Equal((DirectiveKind.Repoint, true), (expiry.Kind, expiry.Retrying));

        agents.StartAgent("n3");
        await Eventually.HoldsAsync(async () => (await agents.HistoryAsync()).Count(e => e.Event is DirectiveSucceeded { Node: "n3" } s && history.All(h => !(h.Event is DirectiveIssued { DirectiveId: var id } && id == s.DirectiveId))),
            succeeded => succeeded > 0, AgentScenario.Long, "a new directive to n3 answered once its agent is back");
        await writes.WaitForAcknowledgedOnAsync("n2", 20, AgentScenario.Long);
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
