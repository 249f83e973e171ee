using System.Diagnostics;
using System.Globalization;

namespace HA.Api.Demo;

/// <summary>
/// The demo's agents: one <c>pgha run</c> process per node (this very executable), each writing to
/// <c>&lt;dir&gt;/&lt;node&gt;/agent.log</c>. An agent that exits is started again after a moment, as
/// systemd would; stopping sends SIGTERM (each agent releases its leases and stops its PostgreSQL).
/// </summary>
public sealed class DemoAgents(string directory, IReadOnlyDictionary<string, string> configs, TextWriter output)
{
    private static readonly TimeSpan RestartAfter = TimeSpan.FromSeconds(2);
    private readonly Dictionary<string, Process> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _exitedAt = new(StringComparer.Ordinal);

    /// <summary>bash commands that kill every agent of the demo in <paramref name="directory"/> (for the orphan guard and destroy).</summary>
    // The pattern's "[-]-" keeps pkill from matching the shell that runs it, whose command line holds the pattern.
    public static string KillScript(string directory) => $"pkill -KILL -f -- '[-]-config {directory}/' || true\n";

    public string LogFile(string node) => Path.Combine(directory, node, "agent.log");

    public void StartAll()
    {
        foreach (var node in configs.Keys) Start(node);
    }

    private void Start(string node)
    {
        // The agent writes to its log file itself, so it never depends on this process's pipes.
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardInput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" </dev/null >>\"$0\" 2>&1");
        start.ArgumentList.Add(LogFile(node));
        foreach (var part in SelfCommand()) start.ArgumentList.Add(part);
        start.ArgumentList.Add("run");
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(configs[node]);
        _running[node] = Process.Start(start) ?? throw new InvalidOperationException($"could not start the agent of {node}");
        _exitedAt.Remove(node);
    }

    /// <summary>How to run this executable again: the apphost, or dotnet with pgha.dll.</summary>
    private static IEnumerable<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, typeof(DemoAgents).Assembly.Location]
            : [process];
    }

    /// <summary>Starts again an agent that exited (after a moment); reports it.</summary>
    public async Task SuperviseAsync(CancellationToken cancellationToken)
    {
        foreach (var (node, process) in _running.ToList())
        {
            if (!process.HasExited) continue;
            var now = DateTimeOffset.UtcNow;
            if (!_exitedAt.TryGetValue(node, out var exited))
            {
                _exitedAt[node] = now;
                await output.WriteLineAsync($"{DateTime.Now:HH:mm:ss} agent {node} exited with {process.ExitCode}; starting it again in {RestartAfter.TotalSeconds:0} s (log: {LogFile(node)})");
                continue;
            }
            if (now - exited < RestartAfter) continue;
            process.Dispose();
            Start(node);
            await output.WriteLineAsync($"{DateTime.Now:HH:mm:ss} agent {node} started again (pid {_running[node].Id.ToString(CultureInfo.InvariantCulture)})");
        }
        await output.FlushAsync(cancellationToken);
    }

    public IEnumerable<(string Node, int Pid)> Running => _running.Where(p => !p.Value.HasExited).Select(p => (p.Key, p.Value.Id));

    /// <summary>SIGTERM to every agent, then waits for them (SIGKILL after <paramref name="timeout"/>).</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        foreach (var (_, pid) in Running)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]));
            kill?.WaitForExit();
        }
        using var wait = new CancellationTokenSource(timeout);
        foreach (var process in _running.Values)
        {
            try { await process.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
            process.Dispose();
        }
        _running.Clear();
    }
}
