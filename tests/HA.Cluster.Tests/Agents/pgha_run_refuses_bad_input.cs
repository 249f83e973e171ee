using HA.Testing;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// <c>pgha run</c> checks everything before it acts: a bad configuration or an unreachable witness stops
/// it with exit 1 and one line naming the key or the problem, and nothing is started.
/// </summary>
public sealed class pgha_run_refuses_bad_input : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pgha-run-input-").FullName;

    private const string Valid = """
        cluster: shop
        node: { name: n1, host: 127.0.0.1, port: 5432, gossip_port: 7433, data_dir: DIR/n1 }
        postgresql: { superuser_password: secret1, replication_password: secret2 }
        witness: { connection_string: "Host=127.0.0.1;Port=PORT;Username=postgres;Password=x;Database=pgha;Timeout=2" }
        gossip: { secret: 0123456789abcdef0123 }
        members:
          - { name: n2, host: 127.0.0.1, port: 5433, gossip_port: 7434 }
        """;

    private async Task<(int Code, string Error)> RunAsync(string yaml)
    {
        var file = Path.Combine(_directory, "pgha.yaml");
        using var closed = FreePorts.Reserve(1);
        await File.WriteAllTextAsync(file, yaml.Replace("DIR", _directory, StringComparison.Ordinal).Replace("PORT", closed.Ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var (code, _, error) = await PghaProcess.RunAsync("run", "--config", file);
        return (code, error.Trim());
    }

    [Theory]
    [InlineData("cluster: shop\n", "cluster: shop\nfailover: { primary_restart_timout: 5s }\n", "pgha: pgha.yaml: unknown key 'failover.primary_restart_timout' (line 2)")]
    [InlineData("gossip_port: 7433", "gossip_port: lots", "pgha: pgha.yaml: node.gossip_port: 'lots' is not a whole number from 1 to 65535")]
    [InlineData("{ name: n2, host: 127.0.0.1, port: 5433", "{ name: n2, host: 127.0.0.1, port: 5432", "pgha: pgha.yaml: members n1 and n2 share the address 127.0.0.1:5432")]
    [InlineData("  - { name: n2, host: 127.0.0.1, port: 5433, gossip_port: 7434 }", "  - { name: n2, host: 127.0.0.1, port: 5433, gossip_port: 7434 }\n  - { name: n2, host: 127.0.0.1, port: 5434 }", "pgha: pgha.yaml: member n2 is listed twice")]
    [InlineData("gossip: { secret: 0123456789abcdef0123 }\n", "", "pgha: pgha.yaml: gossip.secret is required to run an agent (at least 16 characters, the same on every member)")]
    [InlineData("gossip: { secret: 0123456789abcdef0123 }\n", "gossip: { secret: 0123456789abcdef0123 }\napi: { listen: somewhere }\n", "pgha: pgha.yaml: api.listen: 'somewhere' is not an address and port (use 127.0.0.1:8008, 0.0.0.0:8008 or [::1]:8008)")]
    [InlineData("gossip: { secret: 0123456789abcdef0123 }\n", "gossip: { secret: 0123456789abcdef0123 }\nreplication: { synchronous_mode: always }\n", "pgha: pgha.yaml: replication.synchronous_mode: 'always' is not one of off, on, quorum")]
    [InlineData("gossip: { secret: 0123456789abcdef0123 }\n", "gossip: { secret: 0123456789abcdef0123 }\nreplication: { synchronous_node_count: 0 }\n", "pgha: pgha.yaml: replication.synchronous_node_count: '0' is not a whole number from 1 to 1000")]
    [InlineData("secret: 0123456789abcdef0123", "secret: short", "pgha: pgha.yaml: gossip.secret is 5 characters long; use at least 16")]
    public async Task a_bad_configuration_is_named_in_one_line(string replace, string with, string expected)
    {
        Assert.Contains(replace, Valid, StringComparison.Ordinal);
        var (code, error) = await RunAsync(Valid.Replace(replace, with, StringComparison.Ordinal));
        Assert.Equal(1, code);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        Assert.False(Directory.Exists(Path.Combine(_directory, "n1")), "nothing is created");
    }

    [Fact]
    public async Task an_unreachable_witness_is_named_and_nothing_starts()
    {
        var (code, error) = await RunAsync(Valid);
        Assert.Equal(1, code);
        Assert.StartsWith("pgha: cannot open the witness store (schema pgha): ", error, StringComparison.Ordinal);
        Assert.EndsWith("check witness.connection_string", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        Assert.False(Directory.Exists(Path.Combine(_directory, "n1")), "nothing is created");
    }

    [Fact]
    public async Task a_data_directory_holding_something_else_is_refused_before_anything_starts()
    {
        var data = Path.Combine(_directory, "n1", "data");
        Directory.CreateDirectory(data);
        await File.WriteAllTextAsync(Path.Combine(data, "notes.txt"), "not a database");
        var (code, error) = await RunAsync(Valid);
        Assert.Equal((1, $"pgha: node.data_dir: {data} is not empty and is not a PostgreSQL data directory (no PG_VERSION): pgha will not overwrite it; empty it or set node.data_dir to another directory"), (code, error));
        Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(data).Select(Path.GetFileName));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
