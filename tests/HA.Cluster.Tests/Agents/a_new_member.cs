using System.Text.RegularExpressions;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Membership (issue 7): a new node's `pgha run` joins a running cluster under a client writing
/// throughout — NodeJoined, a base backup from the primary through its own slot, streaming — and is then
/// a replica like the others (a failover may choose it; otherwise it follows the new primary).
/// `pgha member remove` (through a member's API) takes it out: NodeLeft, its agent stops its PostgreSQL
/// and exits, the primary drops its slot, and started again it refuses to rejoin until `pgha member add`
/// records it again. Bad requests (no token among them) are refused with the reason and record nothing.
/// </summary>
public sealed class a_new_member(ITestOutputHelper output)
{
    [Fact]
    public async Task joins_with_a_base_backup_follows_a_failover_and_leaves_when_removed()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        await agents.PrepareNodeAsync("n4");
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var before = LastAcknowledged(writes);

        agents.StartAgent("n4");
        var joined = await agents.WaitForStateAsync(s => s.Nodes.TryGetValue("n4", out var n4) && n4.Health == NodeHealth.Healthy, AgentScenario.Long, "n4 joined and healthy");
        Assert.Equal(NodeRole.Replica, joined.Nodes["n4"].Role);
        var join = (await agents.HistoryAsync()).Single(e => e.Event is NodeJoined);
        Assert.Equal(Initiator.Agent("n4"), join.Event.By);
        Assert.Equal(agents.Instance("n4").Settings.Port, ((NodeJoined)join.Event).Spec.Port);
        await StreamingFromAsync(agents, "n1", "n4");
        Assert.Equal(1L, await ScalarAsync(agents, "n1", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgha_n4' AND active"));
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);
        var after = LastAcknowledged(writes);
        await Eventually.HoldsAsync(() => agents.WrittenIdsAsync("n4"), ids => ids.Contains(before) && ids.Contains(after), AgentScenario.Long,
            $"rows {before} (acknowledged before n4 joined) and {after} (after) on n4");

        // A failover: n4 is a candidate like any replica; whichever wins, n4 ends up following it.
        agents.KillPostgres("n1");
        var failedOver = await agents.WaitForStateAsync(s => s.Primary is not "n1" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        var started = (await agents.HistoryAsync()).Select(e => e.Event).OfType<FailoverStarted>().Last();
        Assert.Contains(started.Candidates, c => c.Node == "n4");
        output.WriteLine($"failover chose {failedOver.Primary}: {string.Join("; ", started.Candidates.Select(c => $"{c.Node}: {c.RejectedBecause ?? "chosen"}"))}");
        await writes.WaitForAcknowledgedOnAsync(failedOver.Primary!, 20, AgentScenario.Long);
        if (failedOver.Primary == "n4")
        {
            var switched = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n3"], "--to", "n2");
            Assert.True(switched.ExitCode == 0, switched.Output + switched.Error);
        }
        var settled = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Switchover is null && s.Nodes.Values.All(n => n.Role != NodeRole.FormerPrimary && n.Health == NodeHealth.Healthy),
            AgentScenario.Long, "a primary other than n4, every node healthy (n1 rejoined)");
        var primary = settled.Primary!;
        await StreamingFromAsync(agents, primary, "n4");
        await writes.WaitForAcknowledgedOnAsync(primary, 20, AgentScenario.Long);

        // Removing it: NodeLeft, its agent exits after stopping PostgreSQL, the primary drops its slot.
        var removed = await PghaProcess.RunAsync("member", "remove", "n4", "--config", agents.Configs["n1"], "--reason", "decommissioned");
        Assert.True(removed.ExitCode == 0, removed.Output + removed.Error);
        Assert.StartsWith("cluster test: n4 removed at version ", removed.Output, StringComparison.Ordinal);
        var n4Agent = agents.Agent("n4");
        Assert.Equal(0, await n4Agent.WaitForExitAsync(AgentScenario.Long));
        Assert.Matches(@"pgha run: n4 was removed from cluster test \(at version \d+ by user \S+: decommissioned\): its PostgreSQL is stopped and this agent exits", n4Agent.Output);
        Assert.Null(agents.Instance("n4").ServerProcessId());
        await Eventually.HoldsAsync(() => ScalarAsync(agents, primary, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgha_n4'"), n => n is 0L, AgentScenario.Long, $"slot pgha_n4 dropped on {primary}");
        var final = await agents.StateAsync();
        Assert.Equal(["n1", "n2", "n3"], final!.Nodes.Keys);

        // Started again, it refuses to rejoin by itself.
        var again = await PghaProcess.RunAsync("run", "--config", agents.Configs["n4"]);
        Assert.Equal(1, again.ExitCode);
        Assert.Matches($@"^pgha: n4 was removed from cluster test \(at version \d+ by user api:token@127\.0\.0\.1: decommissioned\): it does not join again by itself; to add it back, run 'pgha member add {Regex.Escape(agents.Configs["n4"])} --config MEMBER_FILE' \(MEMBER_FILE: a running member's pgha\.yaml, or --url API\) and start this agent again$", again.Error.Trim());
        Assert.Null(agents.Instance("n4").ServerProcessId());

        // An operator adds it back through a member's API, as the refusal says: NodeJoined naming who asked.
        var added = await PghaProcess.RunAsync("member", "add", agents.Configs["n4"], "--config", agents.Configs[primary]);
        Assert.True(added.ExitCode == 0, added.Output + added.Error);
        Assert.StartsWith("cluster test: n4 joined at version ", added.Output, StringComparison.Ordinal);
        var rejoin = (await agents.HistoryAsync()).Where(e => e.Event is NodeJoined).ToList();
        Assert.Equal(2, rejoin.Count);
        Assert.Equal(Initiator.User("api:token@127.0.0.1"), rejoin[^1].Event.By);
        Assert.Equal(agents.Instance("n4").Settings.Port, ((NodeJoined)rejoin[^1].Event).Spec.Port);
        Assert.Contains("n4", (await agents.StateAsync())!.Nodes.Keys);

        await writes.WaitForAcknowledgedOnAsync(primary, 20, AgentScenario.Long);
        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(string.Join("\n", (await agents.HistoryAsync()).Select(HA.Core.History.EventLine.Describe)));
        output.WriteLine(check.Summary);
    }

    [Fact]
    public async Task a_taken_name_the_primary_an_unknown_node_and_the_last_candidate_are_refused_and_nothing_is_recorded()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        var config = agents.Configs["n3"];

        // A node claiming n2's name from another address: the new node's address, n2's name.
        var n4 = await agents.PrepareNodeAsync("n4");
        var impostor = Path.Combine(Path.GetDirectoryName(n4)!, "impostor.yaml");
        var yaml = File.ReadAllLines(n4).Where(l => !l.StartsWith("  - { name: n4,", StringComparison.Ordinal)).Select(l => l.Replace("node: { name: n4,", "node: { name: n2,", StringComparison.Ordinal));
        await File.WriteAllLinesAsync(impostor, yaml);
        var taken = await PghaProcess.RunAsync("run", "--config", impostor);
        var n2Port = agents.Instance("n2").Settings.Port;
        var n4Port = agents.Instance("n4").Settings.Port;
        Assert.Equal((1, $"pgha: node.name: cluster test already has a member n2 at 127.0.0.1:{n2Port}, not 127.0.0.1:{n4Port} (node.host, node.port): give this node another name, or remove the other first (pgha member remove n2)"),
            (taken.ExitCode, taken.Error.Trim()));
        Assert.False(Directory.Exists(agents.Instance("n4").Settings.DataDirectory), "nothing is created");

        // Over a member's API (--config names it and holds the token): the same refusals, nothing recorded.
        var primary = await PghaProcess.RunAsync("member", "remove", "n1", "--config", config);
        Assert.Equal((1, "pgha: cluster test: NodeLeft refused: n1 is the primary: switch over to another node before removing it (409 from DELETE /api/v1/members/n1)"), (primary.ExitCode, primary.Error.Trim()));
        var unknown = await PghaProcess.RunAsync("member", "remove", "n9", "--config", config);
        Assert.Equal((1, "pgha: unknown node 'n9' in cluster test (members: n1, n2, n3) (404 from DELETE /api/v1/members/n9)"), (unknown.ExitCode, unknown.Error.Trim()));
        var tokenless = await PghaProcess.RunAsync("member", "remove", "n3", "--url", agents.ApiUrl("n1"));
        Assert.Equal(4, tokenless.ExitCode);
        Assert.StartsWith("pgha: not authorized (give a token with --token or $PGHA_TOKEN)", tokenless.Error.Trim(), StringComparison.Ordinal);
        Assert.Contains("n3", (await agents.StateAsync())!.Nodes.Keys);

        // Adding over the API: n2's name from the impostor's address is refused; n2 as it is records nothing.
        var clash = await PghaProcess.RunAsync("member", "add", impostor, "--config", config);
        Assert.Equal((1, $"pgha: cluster test: NodeJoined refused: n2 is already a member at 127.0.0.1:{n2Port}, not 127.0.0.1:{n4Port}: give the new node another name, or remove n2 first (409 from POST /api/v1/members)"),
            (clash.ExitCode, clash.Error.Trim()));
        var again = await PghaProcess.RunAsync("member", "add", agents.Configs["n2"], "--config", config);
        Assert.True(again.ExitCode == 0, again.Output + again.Error);
        Assert.StartsWith($"cluster test: n2 is already a member (127.0.0.1:{n2Port}); nothing recorded", again.Output, StringComparison.Ordinal);

        // Down to one replica: removing it would leave n1 without a successor.
        var n3 = await PghaProcess.RunAsync("member", "remove", "n3", "--config", agents.Configs["n1"]);
        Assert.True(n3.ExitCode == 0, n3.Output + n3.Error);
        var last = await PghaProcess.RunAsync("member", "remove", "n2", "--config", agents.Configs["n1"]);
        Assert.Equal((1, "pgha: cluster test: NodeLeft refused: n2 is the last replica that could take over from the primary n1: without it cluster test has no automatic failover; add --force to remove it anyway (409 from DELETE /api/v1/members/n2)"),
            (last.ExitCode, last.Error.Trim()));

        var listed = await PghaProcess.RunAsync("member", "list", "--config", agents.Configs["n1"]);
        Assert.Equal(0, listed.ExitCode);
        output.WriteLine(listed.Output);
        Assert.Matches(@"n2\s+replica\s+healthy\s+127\.0\.0\.1:\d+", listed.Output);
        Assert.DoesNotContain("n3", listed.Output.Split('\n').Skip(2).Select(l => l.Split(' ')[0]));

        var membership = (await agents.HistoryAsync()).Where(e => e.Event is NodeJoined or NodeLeft).ToList();
        Assert.Equal(["n3"], membership.Select(e => ((NodeLeft)e.Event).Node));
        Assert.Equal(["n1", "n2"], (await agents.StateAsync())!.Nodes.Keys);
        Assert.Equal(0, await agents.Agent("n3").WaitForExitAsync(AgentScenario.Long));
    }

    private static long LastAcknowledged(WriteRecorder writes) => writes.Attempts.Where(a => a.Acknowledged).Max(a => a.Id);

    private static async Task StreamingFromAsync(AgentCluster agents, string primary, string standby) =>
        await Eventually.HoldsAsync(async () => (await HA.Agent.Postgres.NodeProbe.ReadAsync(agents.Instance(primary).Settings, default)).Replication.Where(r => r.IsStreaming).Select(r => r.ApplicationName).ToList(),
            streaming => streaming.Contains(standby), AgentScenario.Long, $"{standby} streaming from {primary}");

    private static async Task<object?> ScalarAsync(AgentCluster agents, string node, string sql)
    {
        await using var connection = new NpgsqlConnection(agents.ConnectionString(node) + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
