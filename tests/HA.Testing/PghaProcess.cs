using System.Diagnostics;
using System.Text;

namespace HA.Testing;

/// <summary>
/// The real <c>pgha</c> executable (pgha.dll next to the test assembly) run as a child process:
/// either to completion (<see cref="RunAsync"/>) or left running with its output collected
/// (<see cref="Start"/>), for end-to-end tests of the CLI and the demo.
/// </summary>
public sealed class PghaProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly object _gate = new();

    private PghaProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _error.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public string Output { get { lock (_gate) return _output.ToString(); } }

    public string Error { get { lock (_gate) return _error.ToString(); } }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static PghaProcess Start(params string[] arguments) => Start(null, arguments);

    /// <summary>Starts pgha with <paramref name="environment"/> added to this process's variables.</summary>
    public static PghaProcess Start(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pgha.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start pgha");
        return new PghaProcess(process);
    }

    /// <summary>Runs pgha to completion and returns its exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] arguments)
    {
        await using var process = Start(arguments);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process._process.WaitForExitAsync(timeout.Token);
        process._process.WaitForExit(); // drains the asynchronous output readers
        return (process.ExitCode, process.Output, process.Error);
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails with everything printed so far.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                if (Output.Contains(text, StringComparison.Ordinal)) return;
                throw new InvalidOperationException($"pgha exited with {_process.ExitCode} before printing '{text}'. stdout:\n{Output}\nstderr:\n{Error}");
            }
            if (clock.Elapsed > timeout) throw new TimeoutException($"pgha did not print '{text}' within {timeout.TotalSeconds:0} s. stdout:\n{Output}\nstderr:\n{Error}");
            await Task.Delay(100);
        }
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
        kill?.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal("TERM");
            try { await WaitForExitAsync(TimeSpan.FromSeconds(60)); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        _process.Dispose();
    }
}
