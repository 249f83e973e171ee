using System.Net;
using System.Net.Sockets;
using HA.Testing;

namespace HA.Cluster.Tests.Demo;

/// <summary>
/// Every refusal is one line on stderr naming the problem, a non-zero exit, and nothing created:
/// no directory where there was none, no PostgreSQL process.
/// </summary>
public sealed class the_demo_refuses_bad_input
{
    [Fact]
    public async Task a_topology_with_duplicate_names()
    {
        await using var sandbox = new DemoSandbox();
        var file = await TopologyAsync($$"""
            { "nodes": [ { "name": "a", "port": {{sandbox.Ports[1]}} }, { "name": "a", "port": {{sandbox.Ports[2]}} } ],
              "witness": { "port": {{sandbox.Ports[0]}} } }
            """, ".json");
        await AssertRefusedAsync(sandbox, sandbox.Demo("--topology", file), 1, $"pgha: {Path.GetFileName(file)}: node name 'a' is used by 2 nodes: names must be unique");
    }

    [Fact]
    public async Task a_topology_with_duplicate_ports()
    {
        await using var sandbox = new DemoSandbox();
        var file = await TopologyAsync($"""
            base_port: {sandbox.Ports[0]}
            nodes:
              - {"{"} name: a, port: {sandbox.Ports[1]} {"}"}
              - {"{"} name: b, port: {sandbox.Ports[1]} {"}"}
            """, ".yaml");
        await AssertRefusedAsync(sandbox, sandbox.Demo("--topology", file), 1,
            $"pgha: {Path.GetFileName(file)}: port {sandbox.Ports[1]} is given to node a and node b: ports must be unique");
    }

    [Fact]
    public async Task a_port_in_use()
    {
        await using var sandbox = new DemoSandbox();
        using var squatter = new TcpListener(IPAddress.Loopback, sandbox.Ports[2]);
        squatter.Start();
        await AssertRefusedAsync(sandbox, sandbox.Demo("--base-port", sandbox.BasePortText), 1,
            $"pgha: port {sandbox.Ports[2]} (node n2) is already in use on 127.0.0.1; choose other ports (--base-port or the topology file)");
    }

    [Fact]
    public async Task a_missing_postgresql_install()
    {
        await using var sandbox = new DemoSandbox();
        var nowhere = Path.Combine(Path.GetTempPath(), "pgha-no-such-postgres");
        await AssertRefusedAsync(sandbox, sandbox.Demo("--base-port", sandbox.BasePortText, "--pg-bin", nowhere), 1,
            $"pgha: postgresql.bin_dir={nowhere} is not a PostgreSQL server install (missing postgres, initdb, pg_ctl, pg_basebackup, pg_rewind, pg_controldata); point it at the directory holding postgres and pg_ctl, or leave it unset to search");
    }

    [Fact]
    public async Task a_data_directory_owned_by_someone_else()
    {
        await using var sandbox = new DemoSandbox();
        await using (var demo = PghaProcess.Start(sandbox.Demo("--base-port", sandbox.BasePortText)))
        {
            await demo.WaitForOutputAsync("ready:", TimeSpan.FromSeconds(120));
        }
        var data = Path.Combine(sandbox.Directory, "n2", "data");
        var chown = await HA.Agent.Postgres.OsCommand.RunAsync("chown", ["-R", "nobody:", Path.Combine(sandbox.Directory, "n2")], default);
        Assert.True(chown.Succeeded, chown.StandardError);
        var before = Directory.GetFileSystemEntries(sandbox.Directory).Order().ToList();

        var (code, output, error) = await PghaProcess.RunAsync(sandbox.Demo());

        Assert.Equal(1, code);
        Assert.Equal($"pgha: {Path.Combine(sandbox.Directory, "n2")} (node n2) is owned by 'nobody' (uid 65534), not by 'postgres': pgha will not take over a directory it does not own; remove it or choose another directory", error.Trim());
        Assert.Empty(sandbox.PostgresProcesses());
        Assert.Equal(before, Directory.GetFileSystemEntries(sandbox.Directory).Order().ToList());
        Assert.True(File.Exists(Path.Combine(data, "PG_VERSION")));
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData(new[] { "demo", "--nodez", "3" }, 2, "pgha: unknown option '--nodez' for 'pgha demo'; see 'pgha demo --help'")]
    [InlineData(new[] { "demo", "--nodes", "0" }, 2, "pgha: option --nodes of 'pgha demo' must be a whole number from 1 to 16, got '0'")]
    [InlineData(new[] { "demo", "--base-port" }, 2, "pgha: option --base-port of 'pgha demo' needs a value")]
    [InlineData(new[] { "demo", "--synchronous", "always" }, 2, "pgha: --synchronous 'always' is not one of off, on, quorum")]
    [InlineData(new[] { "demo", "explode" }, 2, "pgha: unknown demo command 'explode'; expected status, destroy, add-replica or remove-node (see 'pgha demo --help')")]
    [InlineData(new[] { "fly" }, 2, "pgha: unknown command 'fly'; run 'pgha --help' to see the commands")]
    public async Task a_wrong_command_line(string[] arguments, int exitCode, string message)
    {
        await using var sandbox = new DemoSandbox();
        await AssertRefusedAsync(sandbox, [.. arguments, "--dir", sandbox.Directory], exitCode, message);
    }

    [Fact]
    public async Task a_directory_that_is_not_a_demo_is_neither_used_nor_destroyed()
    {
        await using var sandbox = new DemoSandbox();
        Directory.CreateDirectory(sandbox.Directory);
        await File.WriteAllTextAsync(Path.Combine(sandbox.Directory, "precious.txt"), "keep me");

        var run = await PghaProcess.RunAsync(sandbox.Demo("--base-port", sandbox.BasePortText));
        Assert.Equal((1, $"pgha: {sandbox.Directory} exists and is not a pgha demo directory (no demo.json); choose another --dir"), (run.ExitCode, run.Error.Trim()));
        var destroy = await PghaProcess.RunAsync("demo", "destroy", "--dir", sandbox.Directory);
        Assert.Equal((1, $"pgha: {sandbox.Directory} is not a pgha demo directory (no demo.json); not removing it"), (destroy.ExitCode, destroy.Error.Trim()));
        var reset = await PghaProcess.RunAsync(sandbox.Demo("--reset"));
        Assert.Equal(1, reset.ExitCode);
        Assert.Equal("keep me", await File.ReadAllTextAsync(Path.Combine(sandbox.Directory, "precious.txt")));
    }

    private static async Task AssertRefusedAsync(DemoSandbox sandbox, string[] arguments, int exitCode, string message)
    {
        var (code, _, error) = await PghaProcess.RunAsync(arguments);
        Assert.Equal(message, error.Trim());
        Assert.Single(error.Trim().Split('\n'));
        Assert.Equal(exitCode, code);
        Assert.False(Directory.Exists(sandbox.Directory), $"{sandbox.Directory} was created");
        Assert.Empty(sandbox.PostgresProcesses());
    }

    private static async Task<string> TopologyAsync(string content, string extension)
    {
        var file = Path.Combine(Path.GetTempPath(), $"pgha-topology-{Guid.NewGuid():N}{extension}");
        await File.WriteAllTextAsync(file, content);
        return file;
    }
}

/// <summary>A failure half-way through creating a new demo removes everything created so far.</summary>
public sealed class a_demo_that_fails_while_being_created
{
    [Fact]
    public async Task is_rolled_back_leaving_no_directory_and_no_process()
    {
        await using var sandbox = new DemoSandbox();
        // A PostgreSQL bin directory whose pg_basebackup fails: witness and primary get created and
        // started before the replicas' base backups fail.
        var bin = Directory.CreateTempSubdirectory("pgha-failing-bin-").FullName;
        try
        {
            var real = (await HA.Agent.Postgres.PostgresBinaries.LocateAsync(null, default)).BinDirectory;
            foreach (var program in Directory.GetFiles(real))
                File.CreateSymbolicLink(Path.Combine(bin, Path.GetFileName(program)), program);
            File.Delete(Path.Combine(bin, "pg_basebackup"));
            await File.WriteAllTextAsync(Path.Combine(bin, "pg_basebackup"), "#!/bin/sh\necho 'pg_basebackup: error: disk on fire' >&2\nexit 1\n");
            File.SetUnixFileMode(Path.Combine(bin, "pg_basebackup"), (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(bin, (UnixFileMode)0b111_101_101);

            var (code, output, error) = await PghaProcess.RunAsync(sandbox.Demo("--base-port", sandbox.BasePortText, "--pg-bin", bin));

            Assert.Equal(1, code);
            Assert.Matches(@"^pgha: pg_basebackup failed for node n[23]: pg_basebackup: error: disk on fire$", error.Trim());
            Assert.Contains("n1: started on port", output);
            Assert.False(Directory.Exists(sandbox.Directory), "the half-created demo directory is still there");
            Assert.Empty(sandbox.PostgresProcesses());
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
        }
    }
}

public sealed class checking_a_configuration_file
{
    [Fact]
    public async Task pgha_config_check_says_valid_or_names_the_key_in_one_line()
    {
        var file = Path.Combine(Path.GetTempPath(), $"pgha-{Guid.NewGuid():N}.yaml");
        try
        {
            await File.WriteAllTextAsync(file, "cluster: shop\nnode: { name: n1, host: 127.0.0.1, port: 5432, data_dir: /d }\nwitness: { connection_string: x }\n"
                + "gossip: { secret: 0123456789abcdef }\npostgresql: { superuser_password: a, replication_password: b }\n");
            var ok = await PghaProcess.RunAsync("config", "check", "--config", file);
            Assert.Equal(0, ok.ExitCode);
            Assert.StartsWith($"{file}: valid. cluster shop, node n1 at 127.0.0.1:5432 (/d), 1 member(s); lease postgres ttl 30s fence_margin 5s failsafe off", ok.Output);

            await File.AppendAllTextAsync(file, "lease: { ttl: soon }\n");
            var bad = await PghaProcess.RunAsync("config", "check", "--config", file);
            Assert.Equal((1, $"pgha: {Path.GetFileName(file)}: lease.ttl: 'soon' is not a duration (use 500ms, 10s, 1m or 1h)"), (bad.ExitCode, bad.Error.Trim()));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
