using System.Text.Json;
using HA.Testing;
using Npgsql;

namespace HA.Cluster.Tests.Demo;

public sealed class the_demo_runs_a_local_cluster
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task builds_a_streaming_cluster_reports_it_stops_on_sigterm_reuses_it_and_destroys_it()
    {
        await using var sandbox = new DemoSandbox();
        await using (var demo = PghaProcess.Start(sandbox.Demo("--base-port", sandbox.BasePortText)))
        {
            await demo.WaitForOutputAsync("ready: 2 replicas streaming from n1", Ready);
            Assert.Contains("creating cluster 'demo'", demo.Output);

            var (code, json, _) = await PghaProcess.RunAsync("demo", "status", "--dir", sandbox.Directory, "--json");
            Assert.Equal(0, code);
            using var status = JsonDocument.Parse(json);
            Assert.True(status.RootElement.GetProperty("healthy").GetBoolean());
            Assert.Equal(demo.Pid, status.RootElement.GetProperty("supervisor").GetProperty("pid").GetInt32());
            var nodes = status.RootElement.GetProperty("nodes").EnumerateArray()
                .ToDictionary(n => n.GetProperty("name").GetString()!, n => (Role: n.GetProperty("role").GetString(), State: n.GetProperty("state").GetString(), Uri: n.GetProperty("connection").GetString()!));
            Assert.Equal(("witness", "running"), (nodes["witness"].Role, nodes["witness"].State));
            Assert.Equal(("primary", "running"), (nodes["n1"].Role, nodes["n1"].State));
            Assert.Equal(("replica", "streaming"), (nodes["n2"].Role, nodes["n2"].State));
            Assert.Equal(("replica", "streaming"), (nodes["n3"].Role, nodes["n3"].State));

            // The printed connection strings work over TCP with the generated password.
            await using (var primary = new NpgsqlConnection(ToConnectionString(nodes["n1"].Uri)))
            {
                await primary.OpenAsync();
                await using var write = new NpgsqlCommand("CREATE TABLE demo_rows AS SELECT 42 AS answer", primary);
                await write.ExecuteNonQueryAsync();
            }
            await Eventually.HoldsAsync(() => ScalarAsync(nodes["n3"].Uri, "SELECT answer FROM demo_rows"), v => v == "42", TimeSpan.FromSeconds(30), "row on n3");

            // The printed proxy connection strings reach the primary and a replica.
            await demo.WaitForOutputAsync("Through n1's proxy", Ready);
            var proxied = demo.Output.Split('\n').Where(l => l.Contains("psql 'postgresql://", StringComparison.Ordinal) && l.Contains("(primary)", StringComparison.Ordinal) || l.Contains("(replicas in turn)", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf("psql '", StringComparison.Ordinal) + "psql '".Length)..l.LastIndexOf('\'')]).ToList();
            Assert.Equal(2, proxied.Count);
            await Eventually.HoldsAsync(() => ScalarAsync(proxied[0], "SELECT pg_is_in_recovery()"), v => v == "False", TimeSpan.FromSeconds(30), "the proxy's primary port to reach the primary");
            await Eventually.HoldsAsync(() => ScalarAsync(proxied[1], "SELECT answer FROM demo_rows WHERE pg_is_in_recovery()"), v => v == "42", TimeSpan.FromSeconds(60), "the proxy's replica port to reach a replica");

            demo.Signal("TERM");
            Assert.Equal(0, await demo.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("pgha demo: stopped", demo.Output);
        }
        Assert.Empty(sandbox.PostgresProcesses());
        Assert.True(File.Exists(Path.Combine(sandbox.Directory, "demo.json")));

        var (stoppedCode, stoppedTable, _) = await PghaProcess.RunAsync("demo", "status", "--dir", sandbox.Directory);
        Assert.Equal(3, stoppedCode);
        Assert.Contains("DEGRADED; supervisor not running", stoppedTable);

        await using (var again = PghaProcess.Start(sandbox.Demo()))
        {
            await again.WaitForOutputAsync("ready: 2 replicas streaming", Ready);
            await again.WaitForOutputAsync("pgha demo is running", Ready);
            Assert.Contains("starting cluster 'demo'", again.Output);
            Assert.Equal("42", await ScalarAsync(ReadUri(again.Output), "SELECT answer FROM demo_rows"));

            var (code, output, error) = await PghaProcess.RunAsync("demo", "destroy", "--dir", sandbox.Directory);
            Assert.True(code == 0, error);
            Assert.Contains($"stopping the demo supervisor (pid {again.Pid})", output);
            Assert.Equal(0, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }
        Assert.Empty(sandbox.PostgresProcesses());
        Assert.False(Directory.Exists(sandbox.Directory));
    }

    [Fact]
    public async Task a_killed_demo_leaves_no_postgres_process_behind()
    {
        await using var sandbox = new DemoSandbox();
        await using var demo = PghaProcess.Start(sandbox.Demo("--base-port", sandbox.BasePortText));
        await demo.WaitForOutputAsync("ready:", Ready);
        Assert.NotEmpty(sandbox.PostgresProcesses());

        demo.Signal("KILL");

        await Eventually.HoldsAsync(() => Task.FromResult(sandbox.PostgresProcesses()), p => p.Count == 0, TimeSpan.FromSeconds(60),
            "every postgres process of the killed demo to exit");
    }

    [Fact]
    public async Task reset_rebuilds_with_a_new_node_count_and_a_second_supervisor_is_refused()
    {
        await using var sandbox = new DemoSandbox(ports: 6);
        await using (var first = PghaProcess.Start(sandbox.Demo("--base-port", sandbox.BasePortText, "--nodes", "2")))
        {
            await first.WaitForOutputAsync("ready: 1 replicas streaming", Ready);

            var (code, _, error) = await PghaProcess.RunAsync(sandbox.Demo());
            Assert.Equal(1, code);
            Assert.Equal($"pgha: a demo is already running in {sandbox.Directory} (pid {first.Pid}); stop it with Ctrl-C there, or run 'pgha demo destroy --dir {sandbox.Directory}'", error.Trim());
        }

        var (changedCode, _, changedError) = await PghaProcess.RunAsync(sandbox.Demo("--nodes", "4", "--base-port", sandbox.BasePortText));
        Assert.Equal(1, changedCode);
        Assert.Contains("already holds cluster 'demo'", changedError);
        Assert.Contains("run with --reset", changedError);

        await using var rebuilt = PghaProcess.Start(sandbox.Demo("--reset", "--nodes", "4", "--base-port", sandbox.BasePortText));
        await rebuilt.WaitForOutputAsync("ready: 3 replicas streaming", Ready);
        Assert.Contains("creating cluster 'demo'", rebuilt.Output);
    }

    [Fact]
    public async Task a_topology_file_names_the_nodes_and_their_ports()
    {
        await using var sandbox = new DemoSandbox();
        var file = Path.Combine(Path.GetTempPath(), $"pgha-topology-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, $"""
            cluster: shop
            witness: {"{"} port: {sandbox.Ports[0]} {"}"}
            nodes:
              - name: alpha
                port: {sandbox.Ports[1]}
              - name: beta
                port: {sandbox.Ports[2]}
            """);
        try
        {
            await using var demo = PghaProcess.Start(sandbox.Demo("--topology", file));
            await demo.WaitForOutputAsync("ready: 1 replicas streaming from alpha", Ready);
            var (code, table, _) = await PghaProcess.RunAsync("demo", "status", "--dir", sandbox.Directory);
            Assert.Equal(0, code);
            Assert.Contains("cluster shop", table);
            Assert.Matches($@"alpha\s+primary\s+running\s+\d+\s+{sandbox.Ports[1]}", table);
            Assert.Matches($@"beta\s+replica\s+streaming\s+\d+\s+{sandbox.Ports[2]}", table);
        }
        finally
        {
            File.Delete(file);
        }
    }

    internal static string ReadUri(string output) =>
        output.Split('\n').First(l => l.StartsWith("Connect with: psql '", StringComparison.Ordinal))["Connect with: psql '".Length..].TrimEnd('\'', '\r');

    internal static string ToConnectionString(string uri)
    {
        var parsed = new Uri(uri);
        var credentials = parsed.UserInfo.Split(':');
        return new NpgsqlConnectionStringBuilder
        {
            Host = parsed.Host,
            Port = parsed.Port,
            Username = credentials[0],
            Password = credentials[1],
            Database = parsed.AbsolutePath.Trim('/'),
            Pooling = false,
        }.ConnectionString;
    }

    internal static async Task<string?> ScalarAsync(string uri, string sql)
    {
        await using var connection = new NpgsqlConnection(ToConnectionString(uri));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (await command.ExecuteScalarAsync())?.ToString();
    }
}
