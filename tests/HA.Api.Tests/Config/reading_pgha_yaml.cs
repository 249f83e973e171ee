using HA.Api.Config;
using HA.Core.Errors;

namespace HA.Api.Tests.Config;

public sealed class reading_pgha_yaml
{
    private const string Valid = """
        cluster: shop
        node: { name: n1, host: 10.0.0.1, port: 5432, data_dir: /var/lib/pgha/n1 }
        witness: { connection_string: "Host=10.0.0.9;Database=pgha;Username=pgha" }
        lease:
          backend: etcd
          ttl: 20s
          fence_margin: 4s
          etcd: { endpoints: "http://10.0.0.11:2379,http://10.0.0.12:2379" }
        failover: { failure_timeout: 2500ms, maximum_lag_on_failover: 8MB }
        members:
          - { name: n2, host: 10.0.0.2, port: 5432, failover_priority: 5 }
          - { name: n3, host: 10.0.0.3, port: 5432, nofailover: true }
        """;

    private static readonly Dictionary<string, string> NoEnvironment = [];

    [Fact]
    public void a_valid_file_binds_every_section_with_defaults_for_what_it_leaves_out()
    {
        var config = PghaConfig.Parse(Valid, "pgha.yaml", NoEnvironment);
        Assert.Equal(("shop", "n1", "/var/lib/pgha/n1"), (config.Cluster, config.Node.Name, config.DataDirectory));
        Assert.Equal(("etcd", TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(4)), (config.Lease.Backend, config.Lease.Ttl, config.Lease.FenceMargin));
        Assert.Equal("http://10.0.0.11:2379,http://10.0.0.12:2379", config.Lease.Etcd?.Endpoints);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), config.Detection.FailureTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Detection.PrimaryRestartTimeout);
        Assert.Equal(8L * 1024 * 1024, config.Failover.MaximumLagOnFailover);
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.HealthInterval);
        Assert.Equal(["n1", "n2", "n3"], config.Members.Select(m => m.Name));
        Assert.Equal((5, true), (config.Members[1].FailoverPriority, config.Members[2].NoFailover));
    }

    [Fact]
    public void environment_variables_override_the_file()
    {
        var config = PghaConfig.Parse(Valid, "pgha.yaml", new Dictionary<string, string> { ["PGHA__LEASE__TTL"] = "45s", ["PGHA__HEALTH__INTERVAL"] = "250ms", ["PATH"] = "/bin" });
        Assert.Equal(TimeSpan.FromSeconds(45), config.Lease.Ttl);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.HealthInterval);
        var error = Assert.Throws<OperatorError>(() => PghaConfig.Parse(Valid, "pgha.yaml", new Dictionary<string, string> { ["PGHA__LEASE__TTLL"] = "1s" }));
        Assert.Equal("environment variable PGHA__LEASE__TTLL names no setting (lease.ttll)", error.Message);
    }

    [Theory]
    [InlineData("lease:\n  tll: 10s", "pgha.yaml: unknown key 'lease.tll' (line 5); expected lease.backend, lease.ttl, lease.fence_margin, lease.failsafe, lease.postgres, lease.etcd, lease.consul")]
    [InlineData("lease:\n  ttl: 30x", "pgha.yaml: lease.ttl: '30x' is not a duration (use 500ms, 10s, 1m or 1h)")]
    [InlineData("lease:\n  fence_margin: 25s", "pgha.yaml: lease.fence_margin (25s) must leave room for at least one renewal: below ttl*2/3 (20s)")]
    [InlineData("lease:\n  backend: zookeeper", "pgha.yaml: lease.backend 'zookeeper' is not one of postgres, etcd, consul")]
    [InlineData("lease:\n  backend: consul", "pgha.yaml: lease.consul.address is required for lease.backend consul")]
    [InlineData("failover:\n  maximum_lag_on_failover: lots", "pgha.yaml: failover.maximum_lag_on_failover: 'lots' is not a size (use 1048576, 512kB, 1MB or 1GB)")]
    [InlineData("members:\n  - { name: n2, host: 10.0.0.1, port: 5432 }", "pgha.yaml: members n1 and n2 share the address 10.0.0.1:5432")]
    [InlineData("members:\n  - { name: n2, host: h, prot: 1 }", "pgha.yaml: unknown key 'members[0].prot' (line 5); expected name, host, port, gossip_port, failover_priority, nofailover")]
    [InlineData("lease:\n  failsafe: maybe", "pgha.yaml: lease.failsafe: 'maybe' is not true or false")]
    public void a_mistake_names_the_key(string extra, string message)
    {
        var text = string.Join('\n', "cluster: shop", "node: { name: n1, host: 10.0.0.1, port: 5432, data_dir: /d }", "witness: { connection_string: x }", extra);
        var error = Assert.Throws<OperatorError>(() => PghaConfig.Parse(text, "pgha.yaml", NoEnvironment));
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("node: { name: n1, host: h, port: 1, data_dir: /d }\nwitness: { connection_string: x }", "pgha.yaml: cluster is required")]
    [InlineData("cluster: shop\nwitness: { connection_string: x }", "pgha.yaml: node.name is missing")]
    [InlineData("cluster: shop\nnode: { name: n1, host: h, port: 99999, data_dir: /d }\nwitness: { connection_string: x }", "pgha.yaml: node.port: '99999' is not a whole number from 1 to 65535")]
    [InlineData("cluster: shop\nnode: { name: n1, host: h, port: 1 }\nwitness: { connection_string: x }", "pgha.yaml: node.data_dir is required")]
    [InlineData("cluster: shop\nnode: { name: n1, host: h, port: 1, data_dir: /d }", "pgha.yaml: witness.connection_string is required")]
    [InlineData("cluster: shop\nnode: [1, 2]", "pgha.yaml: 'node' (line 2) must be a mapping")]
    public void a_missing_or_malformed_required_key_is_named(string text, string message)
    {
        Assert.Equal(message, Assert.Throws<OperatorError>(() => PghaConfig.Parse(text, "pgha.yaml", NoEnvironment)).Message);
    }
}
