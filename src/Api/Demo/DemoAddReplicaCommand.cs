using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Api.Cli;
using Npgsql;

namespace HA.Api.Demo;

/// <summary>
/// <c>pgha demo add-replica [--name NAME]</c>: adds a node to a running demo the way an operator adds a
/// replica: free ports, the node's pgha.yaml next to the others, the node in demo.json — the supervisor
/// then starts its <c>pgha run</c>, which joins the cluster (NodeJoined) and takes a base backup from the
/// primary. Waits until it streams and prints its connection string.
/// </summary>
public static class DemoAddReplicaCommand
{
    private static readonly TimeSpan StreamingTimeout = TimeSpan.FromSeconds(180);

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output, CancellationToken cancellationToken)
    {
        if (cli.Has("--help")) { output.WriteLine(DemoCommand.Help); return 0; }
        cli.NoPositionals();
        var directory = RunningDemo(cli.Value("--dir"), "add-replica");
        string name;
        DemoState state;
        LocalCluster cluster;
        using (await directory.LockMembershipAsync(TimeSpan.FromSeconds(30), cancellationToken))
        {
            var before = directory.Load().WithGossipPorts();
            name = cli.Value("--name") ?? NextName(before, directory);
            if (!NodeSettings.IsValidName(name)) throw new DemoError($"--name '{name}' is not a valid node name: use a letter, then letters, digits, '-' or '_' (at most 48)");
            if (string.Equals(name, LocalTopology.WitnessName, StringComparison.OrdinalIgnoreCase)) throw new DemoError($"--name '{name}' is reserved for the witness database");
            if (before.Nodes.Any(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase)))
                throw new DemoError($"--name '{name}': the demo already has a node {name} (nodes: {string.Join(", ", before.Nodes.Select(n => n.Name))})");
            if (Directory.Exists(Path.Combine(directory.Path, name)))
                throw new DemoError($"--name '{name}': {Path.Combine(directory.Path, name)} already exists (a node removed by hand?); remove it or choose another name");

            var used = before.Nodes.Select(n => n.Port).Append(before.WitnessPort).ToHashSet();
            var port = FreePort(used.Max() + 1, p => !used.Contains(p) && PortCheck.IsFree(before.ListenAddress, p), "PostgreSQL");
            var gossipUsed = before.GossipPorts.ToHashSet();
            var gossip = FreePort(gossipUsed.Max() + 1, p => !gossipUsed.Contains(p) && p != port && IsFreeForUdp(before.ListenAddress, p), "gossip");
            state = before with { Nodes = [.. before.Nodes, new DemoStateNode(name, port, gossip)] };
            cluster = await LocalCluster.OpenAsync(directory.Path, state.Topology, state.Credentials, new LocalClusterOptions { BinDirectory = state.PgBinDirectory }, cancellationToken, preflight: false);
            var config = LocalAgentConfig.PathFor(cluster, name);
            await File.WriteAllTextAsync(config, LocalAgentConfig.Render(cluster, DemoCommand.AgentSettings(state), name), cancellationToken);
            File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            directory.Save(state);
            output.WriteLine($"pgha demo: adding {name} to cluster '{state.Cluster}': PostgreSQL on {state.ListenAddress}:{port}, gossip on {gossip}, configuration {config}");
            output.WriteLine($"  the supervisor starts 'pgha run --config {config}': it joins the cluster and takes a base backup from the primary (log: {Path.Combine(directory.Path, name, "agent.log")})");
            await output.FlushAsync(cancellationToken);
        }

        var clock = Stopwatch.StartNew();
        var primary = await WaitForStreamingAsync(cluster, name, directory, cancellationToken);
        var instance = cluster.Node(name);
        output.WriteLine($"ready: {name} streams from {primary} after {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        output.WriteLine($"Connect with: psql '{cluster.ClientUri(instance)}'");
        return 0;
    }

    /// <summary>The demo directory of <paramref name="path"/>, refused unless a demo is there and its supervisor runs.</summary>
    internal static DemoDirectory RunningDemo(string? path, string command)
    {
        var directory = new DemoDirectory(path ?? DemoDirectory.DefaultPath);
        if (!directory.HoldsDemo) throw new DemoError($"no demo in {directory.Path} (no demo.json); start one with 'pgha demo'");
        if (directory.SupervisorPid() is null)
            throw new DemoError($"no demo supervisor runs in {directory.Path}: 'pgha demo {command}' needs a running demo; start it with 'pgha demo --dir {directory.Path}'");
        return directory;
    }

    /// <summary>n1, n2, … : the first "n" + number after the highest one in use.</summary>
    private static string NextName(DemoState state, DemoDirectory directory)
    {
        var highest = state.Nodes.Select(n => n.Name.Length > 1 && n.Name[0] == 'n' && int.TryParse(n.Name[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : 0).DefaultIfEmpty(0).Max();
        for (var i = highest + 1; ; i++)
        {
            var name = "n" + i.ToString(CultureInfo.InvariantCulture);
            if (!Directory.Exists(Path.Combine(directory.Path, name))) return name;
        }
    }

    private static int FreePort(int from, Func<int, bool> free, string what)
    {
        for (var port = from; port <= 65535 && port < from + 200; port++)
            if (free(port)) return port;
        throw new DemoError($"no free {what} port from {from} to {Math.Min(65535, from + 199)}; free one or remove a node");
    }

    private static bool IsFreeForUdp(string address, int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse(address), port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Waits until the running primary reports <paramref name="name"/> streaming; returns the primary's name.</summary>
    private static async Task<string> WaitForStreamingAsync(LocalCluster cluster, string name, DemoDirectory directory, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var lastSeen = "nothing yet";
        while (true)
        {
            foreach (var node in cluster.Nodes.Where(n => n.Settings.Name != name && n.ServerProcessId() is not null))
            {
                try
                {
                    var state = await NodeProbe.ReadAsync(node.Settings, cancellationToken);
                    if (!state.IsPrimary) continue;
                    if (state.Replication.Any(r => r.ApplicationName == name && r.IsStreaming)) return node.Settings.Name;
                    lastSeen = $"primary {node.Settings.Name}: {name} not streaming yet";
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
                {
                    lastSeen = $"{node.Settings.Name} not answering: {e.Message}";
                }
            }
            if (clock.Elapsed > StreamingTimeout)
                throw new DemoError($"{name} was not streaming from the primary after {StreamingTimeout.TotalSeconds:0} s (last seen: {lastSeen}); see {Path.Combine(directory.Path, name, "agent.log")}, or remove it with 'pgha demo remove-node {name} --dir {directory.Path}'");
            await Task.Delay(250, cancellationToken);
        }
    }
}
