using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// `pgha reinitialize --node NODE`: the coordinator has the node's agent throw its data directory away and
/// take a new base backup from the primary (REINITIALIZE), and records NodeRejoined; the primary and a
/// detached node are refused with the reason, nothing recorded.
/// </summary>
public sealed class a_reinitialized_node(ITestOutputHelper output)
{
    [Fact]
    public async Task takes_a_new_base_backup_from_the_primary_and_refuses_the_primary()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var config = agents.Configs["n2"];

        var before = (await agents.StateAsync())!.Version;
        var primary = await PghaProcess.RunAsync("reinitialize", "--config", config, "--node", "n1");
        Assert.Equal((1, "pgha: cluster test: ReinitializeRequested refused: n1 is the primary: switch over to another node before reinitializing it (409 from POST /api/v1/nodes/n1/reinitialize)"), (primary.ExitCode, primary.Error.Trim()));
        var unknown = await PghaProcess.RunAsync("reinitialize", "--config", config, "--node", "n9");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("unknown node 'n9'", unknown.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(await agents.HistoryAsync(), e => e.Event is ReinitializeRequested);

        // A file the base backup cannot bring: gone after the reinitialize.
        var marker = Path.Combine(agents.Cluster.Cluster.Node("n3").Settings.DataDirectory, "pgha_test_marker");
        await File.WriteAllTextAsync(marker, "before");
        var asked = await PghaProcess.RunAsync("reinitialize", "--config", config, "--node", "n3", "--reason", "suspected corruption");
        Assert.True(asked.ExitCode == 0, asked.Error);
        // A second request while one runs is refused (unit-tested in checking_operator_requests: here the base backup may already be done).

        var rejoined = await agents.WaitForStateAsync(s => s.Nodes["n3"].ReinitializeRequested is null && s.Nodes["n3"].Health == NodeHealth.Healthy && s.Version > before + 3,
            AgentScenario.Long, "n3 reinitialized and healthy");
        Assert.False(File.Exists(marker), "the data directory was not replaced");
        var history = await agents.HistoryAsync();
        Assert.Contains(history, e => e.Event is NodeRejoined { Node: "n3", Method: "reinitialize" });
        Assert.Contains(history, e => e.Event is DirectiveIssued { Kind: DirectiveKind.Reinitialize, Node: "n3", Directive: Reinitialize { Upstream: "n1" } });
        Assert.Equal("n1", rejoined.Primary);
        var ids = await agents.WrittenIdsAsync("n3");
        await Eventually.HoldsAsync(async () => (await agents.WrittenIdsAsync("n3")).Count, count => count > ids.Count, AgentScenario.Long, "n3 to receive new writes");
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 0);
        output.WriteLine(check.Summary);
    }
}
