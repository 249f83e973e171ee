using System.Globalization;
using HA.Cluster.Tests.Agents;
using HA.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Api;

/// <summary>
/// <c>/metrics</c> scraped from a running cluster's node (docs/api.md, "Metrics"): the role of each
/// node, the lease holders, gossip freshness and the proxy's counters; after a failover the failover
/// counter and the promotion's directive duration have grown and the role metric names the new primary.
/// </summary>
public sealed class prometheus_metrics_follow_the_cluster(ITestOutputHelper output)
{
    /// <summary>The value of the series <paramref name="name"/> whose labels include <paramref name="labels"/> (null when there is none).</summary>
    private static double? Sample(string exposition, string name, params (string Key, string Value)[] labels)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal)) continue;
            var rest = line[name.Length..];
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue;
            var close = rest.IndexOf('}', StringComparison.Ordinal);
            var labelText = rest[0] == '{' ? rest[1..close] : "";
            if (!labels.All(l => labelText.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal))) continue;
            return double.Parse(rest[(close + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return null;
    }

    [Fact]
    public async Task roles_leases_gossip_and_the_proxy_and_a_failover_counted()
    {
        using var proxyPorts = FreePorts.Reserve(6);
        await using var agents = await AgentCluster.StartAsync(s => s with
        {
            PrimaryRestartTimeout = TimeSpan.Zero,
            ProxyPorts = [.. Enumerable.Range(0, 3).Select(i => (proxyPorts.Ports[2 * i], proxyPorts.Ports[2 * i + 1]))],
        });
        await AgentScenario.BootstrappedAsync(agents);
        var metrics = ApiClient.Url(agents, "n3") + "/metrics";
        async Task<string> ScrapeAsync()
        {
            var (status, body) = await ApiClient.SendAsync(metrics);
            Assert.Equal(System.Net.HttpStatusCode.OK, status);
            return body;
        }

        // One client through n3's proxy, so that its counters have something to say.
        await using (var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={proxyPorts.Ports[4]};Username=postgres;Password={agents.Cluster.Cluster.Credentials.SuperuserPassword};Database=postgres;Pooling=false;Timeout=10"))
        {
            await Eventually.HoldsAsync(async () => { await connection.OpenAsync(); return true; }, ok => ok, AgentScenario.Long, "a connection through n3's proxy");
            await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync();
        }

        var before = await Eventually.HoldsAsync(ScrapeAsync, m =>
            Sample(m, "pgha_node_role", ("node", "n1"), ("role", "primary")) == 1
            && Sample(m, "pgha_node_role", ("node", "n2"), ("role", "replica")) == 1
            && Sample(m, "pgha_lease_holder", ("lease", "primary"), ("node", "n1")) == 1
            && Sample(m, "pgha_proxy_client_connections_total") >= 1
            && Sample(m, "pgha_gossip_heartbeat_age_seconds", ("node", "n3"), ("peer", "n1")) is not null
            && Sample(m, "pgha_node_replication_lag_bytes", ("node", "n2")) is not null
            && Sample(m, "pgha_api_request_duration_seconds_count", ("route", "/metrics")) >= 1,
            AgentScenario.Long, "n3's metrics to show n1 primary, its lease, gossip, lag, the proxy and the API's requests");
        output.WriteLine(before);
        Assert.Equal("test", agents.Name);
        Assert.Contains("cluster=\"test\"", before, StringComparison.Ordinal);
        Assert.Equal(0, Sample(before, "pgha_failovers_total", ("outcome", "completed")) ?? 0);
        Assert.True(Sample(before, "pgha_coordinator_changes_total") >= 1);
        Assert.True(Sample(before, "pgha_lease_expiry_seconds", ("lease", "primary")) > 0);

        agents.KillPostgres("n1");
        var promoted = await agents.WaitForStateAsync(s => s.Primary is "n2" or "n3" && s.Failover is null, AgentScenario.Long, "a replica promoted");
        var after = await Eventually.HoldsAsync(ScrapeAsync, m =>
            Sample(m, "pgha_failovers_total", ("outcome", "completed")) == 1
            && Sample(m, "pgha_node_role", ("node", promoted.Primary!), ("role", "primary")) == 1,
            AgentScenario.Long, $"n3's metrics to count the failover and name {promoted.Primary} primary");
        Assert.Equal(1, Sample(after, "pgha_failover_duration_seconds_count", ("outcome", "completed")));
        Assert.True(Sample(after, "pgha_directive_duration_seconds_count", ("kind", "promote"), ("outcome", "succeeded")) >= 1);
        Assert.True(Sample(after, "pgha_cluster_term") > Sample(before, "pgha_cluster_term"));
    }
}
