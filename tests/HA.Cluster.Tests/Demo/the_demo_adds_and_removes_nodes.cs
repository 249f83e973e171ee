using System.Globalization;
using System.Text.Json;
using HA.Testing;
using Npgsql;
using Xunit.Abstractions;
using static HA.Cluster.Tests.Demo.the_demo_runs_a_local_cluster;

namespace HA.Cluster.Tests.Demo;

/// <summary>
/// `pgha demo add-replica` and `pgha demo remove-node` on a running demo, through the real binary: the
/// supervisor starts the new node's agent, which joins and streams; removing it stops it and its files go.
/// </summary>
public sealed class the_demo_adds_and_removes_nodes(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task a_replica_added_streams_from_the_primary_and_a_removed_one_is_gone()
    {
        // The witness, three nodes and the one added: the added node takes the next port.
        await using var sandbox = new DemoSandbox(ports: 5);
        await using var demo = PghaProcess.Start(sandbox.Demo("--base-port", sandbox.BasePortText));
        await demo.WaitForOutputAsync("pgha demo is running", Ready);
        var primaryUri = ReadUri(demo.Output);
        await using (var primary = new NpgsqlConnection(ToConnectionString(primaryUri)))
        {
            await primary.OpenAsync();
            await using var write = new NpgsqlCommand("CREATE TABLE before_n4 AS SELECT 7 AS seven", primary);
            await write.ExecuteNonQueryAsync();
        }

        var added = await PghaProcess.RunAsync("demo", "add-replica", "--dir", sandbox.Directory);
        Assert.True(added.ExitCode == 0, added.Output + added.Error + demo.Output);
        Assert.Contains($"pgha demo: adding n4 to cluster 'demo': PostgreSQL on 127.0.0.1:{sandbox.Ports[4].ToString(CultureInfo.InvariantCulture)}", added.Output);
        Assert.Contains("ready: n4 streams from n1 after", added.Output);
        var n4Uri = ReadUri(added.Output);
        Assert.Contains($":{sandbox.Ports[4].ToString(CultureInfo.InvariantCulture)}/postgres", n4Uri);
        Assert.True(File.Exists(Path.Combine(sandbox.Directory, "n4.yaml")));
        Assert.Equal("7", await ScalarAsync(n4Uri, "SELECT seven FROM before_n4"));
        Assert.Equal("true", await ScalarAsync(n4Uri, "SELECT pg_is_in_recovery()::text"));

        var (code, json, _) = await PghaProcess.RunAsync("demo", "status", "--dir", sandbox.Directory, "--json");
        Assert.Equal(0, code);
        using (var status = JsonDocument.Parse(json))
        {
            var n4 = status.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("name").GetString() == "n4");
            Assert.Equal(("replica", "streaming"), (n4.GetProperty("role").GetString(), n4.GetProperty("state").GetString()));
        }
        await demo.WaitForOutputAsync("node_joined — n4 joined", Ready);

        var taken = await PghaProcess.RunAsync("demo", "add-replica", "--dir", sandbox.Directory, "--name", "n2");
        Assert.Equal((1, "pgha: --name 'n2': the demo already has a node n2 (nodes: n1, n2, n3, n4)"), (taken.ExitCode, taken.Error.Trim()));
        var primaryRefused = await PghaProcess.RunAsync("demo", "remove-node", "n1", "--dir", sandbox.Directory);
        Assert.Equal((1, "pgha: cluster demo: NodeLeft refused: n1 is the primary: switch over to another node before removing it"), (primaryRefused.ExitCode, primaryRefused.Error.Trim()));

        var removed = await PghaProcess.RunAsync("demo", "remove-node", "n4", "--dir", sandbox.Directory);
        Assert.True(removed.ExitCode == 0, removed.Output + removed.Error + demo.Output);
        Assert.Contains("pgha demo: removing n4 from cluster 'demo': NodeLeft recorded at version", removed.Output);
        Assert.Contains("removed n4: its agent stopped PostgreSQL after", removed.Output);
        Assert.Contains("the primary n1 dropped slot pgha_n4", removed.Output);
        Assert.False(Directory.Exists(Path.Combine(sandbox.Directory, "n4")));
        Assert.False(File.Exists(Path.Combine(sandbox.Directory, "n4.yaml")));
        await demo.WaitForOutputAsync("node_left — n4 left: removed by pgha demo remove-node", Ready);
        await demo.WaitForOutputAsync("agent n4 exited with 0", Ready);

        var (after, table, _) = await PghaProcess.RunAsync("demo", "status", "--dir", sandbox.Directory);
        Assert.Equal(0, after);
        Assert.DoesNotContain("n4", table);

        demo.Signal("TERM");
        Assert.Equal(0, await demo.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Empty(sandbox.PostgresProcesses());
        output.WriteLine($"$ pgha demo add-replica\n{added.Output}\n$ pgha demo remove-node n4\n{removed.Output}\n$ pgha demo\n{demo.Output}");
    }
}
