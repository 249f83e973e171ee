using System.Text.Json;
using HA.Agent.Local;
using HA.Api.Cli;

namespace HA.Api.Demo;

/// <summary><c>pgha demo status</c>: what runs, healthy or not; exit 0 when all healthy, 3 when not.</summary>
public static class DemoStatusCommand
{
    public const int DegradedExitCode = 3;

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output, CancellationToken cancellationToken)
    {
        if (cli.Has("--help")) { output.WriteLine(DemoCommand.Help); return 0; }
        cli.NoPositionals();
        var directory = new DemoDirectory(cli.Value("--dir") ?? DemoDirectory.DefaultPath);
        if (!directory.HoldsDemo) throw new DemoError($"no demo in {directory.Path} (no demo.json); start one with 'pgha demo'");
        var state = directory.Load();
        var cluster = await LocalCluster.OpenAsync(directory.Path, state.Topology, state.Credentials,
            new LocalClusterOptions { BinDirectory = state.PgBinDirectory }, cancellationToken, preflight: false);
        var snapshot = await DemoSnapshot.TakeAsync(cluster, directory, cancellationToken);

        if (cli.Has("--json"))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                cluster = snapshot.Cluster,
                directory = snapshot.Directory,
                healthy = snapshot.Healthy,
                supervisor = new { running = snapshot.SupervisorPid is not null, pid = snapshot.SupervisorPid },
                nodes = snapshot.Nodes.Select(n => new
                {
                    name = n.Name,
                    role = n.Role,
                    state = n.State,
                    healthy = n.Healthy,
                    pid = n.Pid,
                    port = n.Port,
                    timeline = n.Timeline,
                    lsn = n.Lsn,
                    lag_bytes = n.LagBytes,
                    connection = n.Connection,
                }),
            }, new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            output.WriteLine($"cluster {snapshot.Cluster} in {snapshot.Directory}: {(snapshot.Healthy ? "healthy" : "DEGRADED")}; supervisor " +
                (snapshot.SupervisorPid is { } pid ? $"running (pid {pid})" : "not running"));
            output.Write(snapshot.Table());
        }
        return snapshot.Healthy ? 0 : DegradedExitCode;
    }
}
