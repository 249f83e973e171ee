using System.Diagnostics;
using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Api.Cli;
using HA.Api.Operations;
using HA.Core.Events;
using HA.Projections;
using Npgsql;

namespace HA.Api.Demo;

/// <summary>
/// <c>pgha demo remove-node NAME</c>: takes a node out of a running demo the way an operator would —
/// NodeLeft in the log (refused for the primary and, without --force, the last replica that could take
/// over), so its agent stops its PostgreSQL and exits and the primary drops its slot — then out of
/// demo.json (the supervisor stops supervising it) and off the disk.
/// </summary>
public static class DemoRemoveNodeCommand
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output, CancellationToken cancellationToken)
    {
        if (cli.Has("--help")) { output.WriteLine(DemoCommand.Help); return 0; }
        if (cli.Positionals.Count != 1) throw new HA.Core.Errors.UsageError("pgha demo remove-node needs exactly one NAME (pgha demo remove-node NAME [--dir DIR] [--force])");
        var name = cli.Positionals[0];
        var directory = DemoAddReplicaCommand.RunningDemo(cli.Value("--dir"), "remove-node");
        using var _ = await directory.LockMembershipAsync(TimeSpan.FromSeconds(30), cancellationToken);
        var state = directory.Load().WithGossipPorts();
        if (state.Nodes.All(n => n.Name != name))
            throw new DemoError($"no node '{name}' in the demo in {directory.Path} (nodes: {string.Join(", ", state.Nodes.Select(n => n.Name))})");
        var cluster = await LocalCluster.OpenAsync(directory.Path, state.Topology, state.Credentials, new LocalClusterOptions { BinDirectory = state.PgBinDirectory }, cancellationToken, preflight: false);
        var instance = cluster.Node(name);

        await using var witness = await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = cluster.WitnessConnectionString() + ";Timeout=5" }, cancellationToken);
        var log = await witness.StateAsync(state.Cluster, cancellationToken);
        string recorded;
        if (log.Nodes.ContainsKey(name))
        {
            if (!cli.Has("--force") && MembershipChange.LastCandidateProblem(log, name) is { } last) throw new EventRejectedError(state.Cluster, nameof(NodeLeft), last);
            var after = await witness.AppendCheckedAsync(state.Cluster,
                new NodeLeft(name, "removed by pgha demo remove-node") { By = Initiator.User(Environment.UserName), CorrelationId = $"remove-{name}-{Guid.NewGuid():n}"[..24] }, cancellationToken);
            recorded = $"NodeLeft recorded at version {after.Version}";
        }
        else
        {
            recorded = "the log never named it (it had not joined)";
        }
        directory.Save(state with { Nodes = [.. state.Nodes.Where(n => n.Name != name)] });
        output.WriteLine($"pgha demo: removing {name} from cluster '{state.Cluster}': {recorded}; its agent stops its PostgreSQL and exits");
        await output.FlushAsync(cancellationToken);

        var clock = Stopwatch.StartNew();
        while (instance.ServerProcessId() is not null && clock.Elapsed < StopTimeout) await Task.Delay(200, cancellationToken);
        var stopped = instance.ServerProcessId() is null ? $"its agent stopped PostgreSQL after {clock.Elapsed.TotalSeconds:0.0} s" : "PostgreSQL still ran: stopped it";
        await instance.StopAsync(StopMode.Fast, cancellationToken);

        var slot = await SlotGoneAsync(cluster, name, cancellationToken);
        var config = LocalAgentConfig.PathFor(cluster, name);
        File.Delete(config);
        if (Directory.Exists(instance.Settings.NodeDirectory)) Directory.Delete(instance.Settings.NodeDirectory, recursive: true);
        output.WriteLine($"removed {name}: {stopped}; {slot}; deleted {config} and {instance.Settings.NodeDirectory}");
        output.WriteLine($"nodes now: {string.Join(", ", state.Nodes.Where(n => n.Name != name).Select(n => n.Name))}");
        return 0;
    }

    /// <summary>Waits (a while) until the running primary has dropped the removed node's slot; says what it saw.</summary>
    private static async Task<string> SlotGoneAsync(LocalCluster cluster, string name, CancellationToken cancellationToken)
    {
        var slot = NodeSettings.SlotNameFor(name);
        var clock = Stopwatch.StartNew();
        var seen = "no running primary found";
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            foreach (var node in cluster.Nodes.Where(n => n.Settings.Name != name && n.ServerProcessId() is not null))
            {
                try
                {
                    await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node.Settings));
                    await connection.OpenAsync(cancellationToken);
                    await using var command = new NpgsqlCommand("SELECT pg_is_in_recovery(), EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = @slot)", connection);
                    command.Parameters.AddWithValue("slot", slot);
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                    await reader.ReadAsync(cancellationToken);
                    if (reader.GetBoolean(0)) continue;
                    if (!reader.GetBoolean(1)) return $"the primary {node.Settings.Name} dropped slot {slot}";
                    seen = $"the primary {node.Settings.Name} still has slot {slot}";
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
                {
                    seen = $"{node.Settings.Name} not answering ({e.Message})";
                }
            }
            await Task.Delay(250, cancellationToken);
        }
        return $"{seen} after 30 s (its agent drops it once its node's walsender is gone)";
    }
}
