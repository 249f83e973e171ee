using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Npgsql;

namespace HA.Cluster.Tests.Agents;

/// <summary>What the agent fault tests share: a cluster whose agents have bootstrapped it, a client writing throughout, and the final check.</summary>
internal static class AgentScenario
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    public static readonly TimeSpan WriteEvery = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until the agents recorded the cluster with n1 primary and every node healthy.</summary>
    public static Task<ClusterState> BootstrappedAsync(AgentCluster agents) =>
        agents.WaitForStateAsync(s => s.Primary == "n1" && s.Nodes.Count == agents.Nodes.Count() && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy),
            Long, "the agents bootstrap the cluster with n1 primary and every node healthy");

    public static async Task<IReadOnlySet<long>> IdsOnAsync(AgentCluster agents, string node)
    {
        await using var connection = new NpgsqlConnection(agents.ConnectionString(node));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT id FROM {WriteRecorder.Table}", connection);
        var ids = new HashSet<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        return ids;
    }

    /// <summary>DESIGN §3 over the whole run: one writer, acknowledged writes kept (within <paramref name="allowedLoss"/>), the log's invariants.</summary>
    public static async Task<HistoryCheck> CheckAsync(AgentCluster agents, WriteRecorder writes, int allowedLoss)
    {
        await writes.StopAsync();
        var state = await agents.StateAsync() ?? throw new InvalidOperationException("no state");
        var present = await IdsOnAsync(agents, state.Primary!);
        // Agents may append after the state was read: the history up to its version must replay to it.
        var history = (await agents.HistoryAsync()).Where(e => e.Version <= state.Version).ToList();
        var check = HistoryChecker.Check(writes.Attempts, new SurvivingWrites(state.Primary!, present, allowedLoss), history, state);
        if (!check.IsClean) throw new HistoryViolation(check);
        return check;
    }
}
