using HA.Cluster.Tests.Agents;
using HA.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Api;

/// <summary>
/// HAProxy configured as for Patroni (DESIGN §8: existing HAProxy configurations work unchanged): a
/// listener whose servers are checked with <c>/primary</c> on each node's API reaches the primary, one
/// checked with <c>/replica</c> reaches a standby; after the primary's node is lost and a replica
/// promoted, new connections through the primary listener reach the new primary.
/// </summary>
public sealed class haproxy_with_patroni_checks_follows_a_failover(ITestOutputHelper output)
{
    private static async Task<(int Port, bool InRecovery)> ServerAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT inet_server_port(), pg_is_in_recovery()", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt32(0), reader.GetBoolean(1));
    }

    [Fact]
    public async Task new_connections_reach_the_new_primary_and_the_replica_listener_reaches_a_standby()
    {
        await using var agents = await AgentCluster.StartAsync(s => s with { LeaseTtl = TimeSpan.FromSeconds(10), FenceMargin = TimeSpan.FromSeconds(3) });
        await AgentScenario.BootstrappedAsync(agents);
        using var ports = FreePorts.Reserve(2);
        var servers = agents.Nodes.Select((node, i) => new HaproxyServer(node, agents.Instance(node).Settings.Port, agents.Settings.GossipPorts[i])).ToList();
        var config = Haproxy.Render([("primary", ports.Ports[0], "/primary"), ("replicas", ports.Ports[1], "/replica")], servers);
        await using var haproxy = await Haproxy.StartAsync(config, ports.Ports, TimeSpan.FromSeconds(30));
        output.WriteLine(config);

        string Through(int port) =>
            $"Host=127.0.0.1;Port={port};Username=postgres;Password={agents.Cluster.Cluster.Credentials.SuperuserPassword};Database=postgres;Pooling=false;Timeout=5";
        int PortOf(string node) => agents.Instance(node).Settings.Port;
        var primary = Through(ports.Ports[0]);
        var replicas = Through(ports.Ports[1]);

        await Eventually.HoldsAsync(() => ServerAsync(primary), s => s == (PortOf("n1"), false), AgentScenario.Long, "haproxy's primary listener to reach n1");
        await Eventually.HoldsAsync(() => ServerAsync(replicas), s => s.InRecovery && (s.Port == PortOf("n2") || s.Port == PortOf("n3")), AgentScenario.Long,
            "haproxy's replica listener to reach a standby");

        agents.KillPostgres("n1");
        agents.KillAgent("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        var reached = await Eventually.HoldsAsync(() => ServerAsync(primary), s => s == (PortOf(promoted.Primary!), false), AgentScenario.Long,
            $"haproxy's primary listener to reach the new primary {promoted.Primary}");
        output.WriteLine($"after the failover haproxy's primary listener reaches {promoted.Primary} (port {reached.Port})");
        var other = promoted.Primary == "n2" ? "n3" : "n2";
        await Eventually.HoldsAsync(() => ServerAsync(replicas), s => s == (PortOf(other), true), AgentScenario.Long,
            $"haproxy's replica listener to reach the remaining standby {other}");
        output.WriteLine(haproxy.Output);
    }
}
