using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;

namespace HA.Cluster.Tests.Agents;

/// <summary>What the agent fault tests share: a cluster whose agents have bootstrapped it, a client writing throughout, and the final check.</summary>
internal static class AgentScenario
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    public static readonly TimeSpan WriteEvery = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until every agent has started and they recorded the cluster with n1 primary and every node healthy.</summary>
    public static async Task<ClusterState> BootstrappedAsync(AgentCluster agents)
    {
        await agents.WaitForAgentsStartedAsync(Long);
        return await agents.WaitForStateAsync(s => s.Primary == "n1" && s.Nodes.Count == agents.Nodes.Count() && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy),
            Long, "the agents bootstrap the cluster with n1 primary and every node healthy");
    }

    /// <summary>Starts the agents with <paramref name="coordinator"/>'s first, so that it holds the coordinator lease (not the primary's node).</summary>
    public static async Task StartWithCoordinatorAsync(AgentCluster agents, string coordinator)
    {
        agents.StartAgent(coordinator);
        await using (var leases = await HA.Agent.Lease.PostgresLeaseStore.OpenAsync(AgentCluster.WitnessConnectionString(agents.Cluster.Cluster)))
        {
            await Eventually.HoldsAsync(async () => (await leases.ReadAsync(HA.Core.Leases.LeaseKeys.Leader(agents.Name), default))?.Holder,
                holder => holder == coordinator, Long, $"{coordinator} to hold the coordinator lease");
        }
        foreach (var node in agents.Nodes.Where(n => n != coordinator)) agents.StartAgent(node);
    }

    /// <summary>
    /// Waits until whichever node the log names primary has acknowledged <paramref name="count"/> writes: on a
    /// loaded machine a new primary may lose its lease and be replaced once more, which is no violation
    /// (the history checker judges that); the test goes on with the primary of the moment.
    /// </summary>
    public static async Task<string> WaitForWritesOnThePrimaryAsync(AgentCluster agents, WriteRecorder writes, int count)
    {
        var deadline = DateTimeOffset.UtcNow + Long;
        while (true)
        {
            var primary = (await agents.StateAsync())?.Primary ?? throw new InvalidOperationException("the cluster has no primary");
            try
            {
                await writes.WaitForAcknowledgedOnAsync(primary, count, TimeSpan.FromSeconds(20));
                return primary;
            }
            catch (TimeoutException) when (DateTimeOffset.UtcNow < deadline)
            {
                // Replaced meanwhile (or not yet writing): look again at which node is primary.
            }
        }
    }

    /// <summary>DESIGN §3 over the whole run: one writer, acknowledged writes kept (within <paramref name="allowedLoss"/>), the log's invariants.</summary>
    public static async Task<HistoryCheck> CheckAsync(AgentCluster agents, WriteRecorder writes, int allowedLoss)
    {
        var check = await agents.CheckAsync(writes, allowedLoss);
        if (!check.IsClean) throw new HistoryViolation(check);
        return check;
    }
}
