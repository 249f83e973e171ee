using HA.Agent.Postgres;
using HA.Core.Events;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// Control-plane loss is not data-plane loss (DESIGN §3.5), with the leases in a real three-member etcd:
/// one etcd member lost changes nothing; the witness database stopped for a while decides no failover
/// and the primary keeps taking writes; when it returns the coordinator decides again (a crash right
/// after is failed over).
/// </summary>
public sealed class a_lost_control_plane(ITestOutputHelper output)
{
    [Fact]
    public async Task one_etcd_member_or_the_witness_lost_for_a_while_stops_no_writes_and_decides_nothing_until_it_returns()
    {
        await using var etcd = await EtcdCluster.StartAsync();
        await using var agents = await AgentCluster.StartAsync(s => s with { EtcdEndpoints = etcd.Endpoints });
        await AgentScenario.BootstrappedAsync(agents);
        await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

        // One etcd member of three lost: the primary keeps its lease and its writes, for longer than a ttl.
        etcd.Kill(2);
        await writes.WaitForAcknowledgedOnAsync("n1", 400, AgentScenario.Long);

        // The witness database stopped for longer than a ttl: nothing can be decided, the primary serves on.
        var witness = agents.Cluster.Cluster.Witness;
        var versionBefore = (await agents.StateAsync())!.Version;
        await witness.StopAsync(StopMode.Immediate, default);
        await writes.WaitForAcknowledgedOnAsync("n1", 400, AgentScenario.Long);
        await witness.StartAsync(default);
        var backAt = DateTimeOffset.UtcNow;
        etcd.Restart(2);

        var history = await agents.HistoryAsync();
        Assert.DoesNotContain(history, e => e.Event is FailoverStarted or NodeFenced or PrimaryChanged);
        Assert.Equal("n1", (await agents.StateAsync())!.Primary);
        output.WriteLine($"{history.Count - versionBefore} event(s) appended during and since the outage");

        // Decisions resume: the primary crashes and is failed over.
        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a failover decided after the witness returned");
        await writes.WaitForAcknowledgedOnAsync(promoted.Primary!, 20, AgentScenario.Long);
        Assert.True((await agents.HistoryAsync()).Single(e => e.Event is FailoverStarted).At >= backAt.AddSeconds(-1));

        var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
        output.WriteLine(check.Summary);
    }
}
