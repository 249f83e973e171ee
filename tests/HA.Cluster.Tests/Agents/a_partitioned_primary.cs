using System.Net;
using HA.Agent.Postgres;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// A primary partitioned from everything else (DESIGN §11): fault relays sit on every path between n1
/// and the rest — its witness and lease store, the peers' connections to its PostgreSQL and its
/// gossip, its own connections to theirs — and are cut at once. n1 cannot renew its lease and fences
/// itself before it could expire; the others see it unreachable, wait for its lease and promote a
/// replica; a client writing straight to every node throughout never finds two writers. Healed, n1 is
/// rewound and follows.
/// </summary>
public sealed class a_partitioned_primary(ITestOutputHelper output)
{
    [Fact]
    public async Task fences_itself_is_replaced_after_its_lease_and_rejoins_when_healed()
    {
        using var relayPorts = FreePorts.Reserve(7);
        var (witnessIn, n1In, n1GossipIn, n2FromN1, n3FromN1, n2GossipFromN1, n3GossipFromN1) =
            (relayPorts.Ports[0], relayPorts.Ports[1], relayPorts.Ports[2], relayPorts.Ports[3], relayPorts.Ports[4], relayPorts.Ports[5], relayPorts.Ports[6]);
        await using var agents = await AgentCluster.StartAsync(s => s with
        {
            WitnessRoute = viewer => viewer == "n1" ? witnessIn : null,
            Route = (viewer, member) => (viewer, member) switch
            {
                ("n1", "n2") => (n2FromN1, n2GossipFromN1),
                ("n1", "n3") => (n3FromN1, n3GossipFromN1),
                (_, "n1") => (n1In, n1GossipIn),
                _ => null,
            },
        }, startAgents: false);

        var local = agents.Cluster.Cluster;
        IPEndPoint At(int port) => new(IPAddress.Loopback, port);
        var gossip = agents.Settings.GossipPorts;
        var relays = new RelaySet(
            FaultRelay.StartTcp(At(witnessIn), At(local.Witness.Settings.Port), "n1→witness"),
            FaultRelay.StartTcp(At(n1In), At(local.Node("n1").Settings.Port), "→n1 postgres"),
            FaultRelay.StartUdp(At(n1GossipIn), At(gossip[0]), "→n1 gossip"),
            FaultRelay.StartTcp(At(n2FromN1), At(local.Node("n2").Settings.Port), "n1→n2 postgres"),
            FaultRelay.StartTcp(At(n3FromN1), At(local.Node("n3").Settings.Port), "n1→n3 postgres"),
            FaultRelay.StartUdp(At(n2GossipFromN1), At(gossip[1]), "n1→n2 gossip"),
            FaultRelay.StartUdp(At(n3GossipFromN1), At(gossip[2]), "n1→n3 gossip"));
        try
        {
            // The replicas stream from n1 through the relay too.
            foreach (var replica in new[] { "n2", "n3" }) await local.Node(replica).RepointAsync(new ReplicationSource("127.0.0.1", n1In), default);
            foreach (var node in agents.Nodes) agents.StartAgent(node);
            await AgentScenario.BootstrappedAsync(agents);
            await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, AgentScenario.WriteEvery, default);
            await writes.WaitForAcknowledgedOnAsync("n1", 20, AgentScenario.Long);

            relays.Cut(CutMode.BlackHole);
            await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted while n1 is partitioned");
            await AgentScenario.WaitForWritesOnThePrimaryAsync(agents, writes, 20);
            await Eventually.HoldsAsync(() => Task.FromResult(local.Node("n1").ServerProcessId()), pid => pid is null, TimeSpan.FromSeconds(30), $"n1 to have fenced itself (it cannot hear it was replaced)\n{agents.AgentLogs()}");
            var history = await agents.HistoryAsync();
            Assert.Contains("primary lease", ((NodeFenced)history.Single(e => e.Event is NodeFenced { Node: "n1" }).Event).How, StringComparison.Ordinal);

            relays.Heal();
            await agents.WaitForStateAsync(s => s.Nodes["n1"].Role == NodeRole.Replica && s.Nodes["n1"].Health == NodeHealth.Healthy, AgentScenario.Long, "n1 rejoins as a healthy replica once healed");
            var check = await AgentScenario.CheckAsync(agents, writes, allowedLoss: 1000);
            output.WriteLine(check.Summary);
            output.WriteLine(relays.ToString());
        }
        finally
        {
            foreach (var relay in relays.Relays) await relay.DisposeAsync();
        }
    }
}
