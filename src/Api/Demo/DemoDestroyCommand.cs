using System.Diagnostics;
using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Demo;

/// <summary><c>pgha demo destroy</c>: stops the supervisor and every instance, then removes the directory.</summary>
public static class DemoDestroyCommand
{
    public static async Task<int> RunAsync(CommandLine cli, TextWriter output, CancellationToken cancellationToken)
    {
        if (cli.Has("--help")) { output.WriteLine(DemoCommand.Help); return 0; }
        cli.NoPositionals();
        var directory = new DemoDirectory(cli.Value("--dir") ?? DemoDirectory.DefaultPath);
        if (!directory.Exists)
        {
            output.WriteLine($"nothing to destroy: {directory.Path} does not exist");
            return 0;
        }
        if (!directory.HoldsDemo && !directory.IsEmptyOrMissing)
            throw new DemoError($"{directory.Path} is not a pgha demo directory (no demo.json); not removing it");
        await DestroyAsync(directory, output, cancellationToken);
        return 0;
    }

    /// <summary>Stops a running supervisor (SIGTERM, then SIGKILL), every instance, and removes the directory.</summary>
    public static async Task DestroyAsync(DemoDirectory directory, TextWriter output, CancellationToken cancellationToken)
    {
        if (directory.SupervisorPid() is { } pid && pid != Environment.ProcessId)
        {
            output.WriteLine($"stopping the demo supervisor (pid {pid})");
            using var supervisor = Process.GetProcessById(pid);
            Kill(pid, "TERM");
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(TimeSpan.FromSeconds(60));
            try { await supervisor.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { supervisor.Kill(); }
        }

        // Agents left by a supervisor that was killed would start again what is stopped below.
        using (var agents = Process.Start(new ProcessStartInfo("bash", ["-c", DemoAgents.KillScript(directory.Path)])))
            agents?.WaitForExit();

        if (directory.HoldsDemo)
        {
            var state = directory.Load();
            try
            {
                var cluster = await LocalCluster.OpenAsync(directory.Path, state.Topology, state.Credentials,
                    new LocalClusterOptions { BinDirectory = state.PgBinDirectory }, cancellationToken, preflight: false);
                await cluster.StopAsync(StopMode.Immediate, cancellationToken);
            }
            catch (OperatorError e)
            {
                output.WriteLine($"could not stop the instances with pg_ctl ({e.Message}); killing them");
            }
        }
        foreach (var leftover in PostgresProcesses.Under(directory.Path)) Kill(leftover, "KILL");
        var deadline = Stopwatch.StartNew();
        while (PostgresProcesses.Under(directory.Path).Count > 0 && deadline.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(100, cancellationToken);
        if (PostgresProcesses.Under(directory.Path) is { Count: > 0 } survivors)
            throw new DemoError($"PostgreSQL processes {string.Join(", ", survivors)} under {directory.Path} did not exit; kill them and run destroy again");
        Directory.Delete(directory.Path, recursive: true);
        output.WriteLine($"destroyed {directory.Path}");
    }

    private static void Kill(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { RedirectStandardError = true });
        kill?.WaitForExit();
    }
}
