using System.Diagnostics;
using System.Globalization;

namespace HA.Api.Demo;

/// <summary>
/// The demo's agents: one <c>pgha run</c> process per node (this very executable), each writing to
/// <c>&lt;dir&gt;/&lt;node&gt;/agent.log</c>. An agent that exits is started again after a moment, as
/// systemd would; stopping sends SIGTERM (each agent releases its leases and stops its PostgreSQL).
/// <see cref="Sync"/> follows the demo's nodes as <c>pgha demo add-replica</c> and <c>remove-node</c> change them.
/// </summary>
public sealed class DemoAgents(string directory, IReadOnlyDictionary<string, string> configs, TextWriter output)
{
    private static readonly TimeSpan RestartAfter = TimeSpan.FromSeconds(2);

    /// <summary>How long an agent whose node left the demo may take to exit by itself (it stops its PostgreSQL first) before SIGTERM.</summary>
    private static readonly TimeSpan LeaveWithin = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, Process> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _exitedAt = new(StringComparer.Ordinal);
    private readonly List<(string Node, Process Process, DateTimeOffset Deadline)> _leaving = [];
    private Dictionary<string, string> _configs = new(configs, StringComparer.Ordinal);

    /// <summary>bash commands that kill every agent of the demo in <paramref name="directory"/> (for the orphan guard and destroy).</summary>
    // The pattern's "[-]-" keeps pkill from matching the shell that runs it, whose command line holds the pattern.
    public static string KillScript(string directory) => $"pkill -KILL -f -- '[-]-config {directory}/' || true\n";

    public string LogFile(string node) => Path.Combine(directory, node, "agent.log");

    public void StartAll()
    {
        foreach (var node in _configs.Keys) Start(node);
    }

    private void Start(string node)
    {
        // The agent writes to its log file itself, so it never depends on this process's pipes.
        Directory.CreateDirectory(Path.GetDirectoryName(LogFile(node))!); // a node just added has no directory yet
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardInput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" </dev/null >>\"$0\" 2>&1");
        start.ArgumentList.Add(LogFile(node));
        foreach (var part in SelfCommand()) start.ArgumentList.Add(part);
        start.ArgumentList.Add("run");
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(_configs[node]);
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

    /// <summary>
    /// Supervises exactly the agents of <paramref name="nodes"/> from now on: a new node's agent starts at
    /// once; the agent of a node that left is not started again, and gets a moment to exit by itself.
    /// </summary>
    public async Task SyncAsync(IReadOnlyDictionary<string, string> nodes, CancellationToken cancellationToken)
    {
        foreach (var (node, process) in _running.Where(r => !nodes.ContainsKey(r.Key)).ToList())
        {
            _running.Remove(node);
            _exitedAt.Remove(node);
            _leaving.Add((node, process, DateTimeOffset.UtcNow + LeaveWithin));
            await output.WriteLineAsync($"{DateTime.Now:HH:mm:ss} agent {node}: its node left the demo; no longer supervised");
        }
        _configs = new Dictionary<string, string>(nodes, StringComparer.Ordinal);
        foreach (var node in _configs.Keys.Where(n => !_running.ContainsKey(n)))
        {
            Start(node);
            await output.WriteLineAsync($"{DateTime.Now:HH:mm:ss} agent {node} started (pid {_running[node].Id.ToString(CultureInfo.InvariantCulture)}; log: {LogFile(node)})");
        }
        await output.FlushAsync(cancellationToken);
    }

    /// <summary>Starts again an agent that exited (after a moment); reports it.</summary>
    public async Task SuperviseAsync(CancellationToken cancellationToken)
    {
        foreach (var leaving in _leaving.ToList())
        {
            if (leaving.Process.HasExited)
            {
                await output.WriteLineAsync($"{DateTime.Now:HH:mm:ss} agent {leaving.Node} exited with {leaving.Process.ExitCode}");
                leaving.Process.Dispose();
                _leaving.Remove(leaving);
            }
            else if (DateTimeOffset.UtcNow > leaving.Deadline)
            {
                using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", leaving.Process.Id.ToString(CultureInfo.InvariantCulture)]));
                kill?.WaitForExit();
                _leaving[_leaving.IndexOf(leaving)] = leaving with { Deadline = DateTimeOffset.MaxValue };
            }
        }
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

    public IEnumerable<(string Node, int Pid)> Running => _running.Where(p => !p.Value.HasExited).Select(p => (p.Key, p.Value.Id))
        .Concat(_leaving.Where(l => !l.Process.HasExited).Select(l => (l.Node, l.Process.Id)));

    /// <summary>SIGTERM to every agent, then waits for them (SIGKILL after <paramref name="timeout"/>).</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        foreach (var (_, pid) in Running)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]));
            kill?.WaitForExit();
        }
        using var wait = new CancellationTokenSource(timeout);
        foreach (var process in _running.Values.Concat(_leaving.Select(l => l.Process)))
        {
            try { await process.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
            process.Dispose();
        }
        _running.Clear();
        _leaving.Clear();
    }
}
