using System.Diagnostics;

namespace HA.Agent.Postgres;

/// <summary>
/// Runs a cleanup script when the process that armed it dies without disarming it (kill -9, crash,
/// a test host torn down). A detached watcher, reparented away from this process so a process-tree
/// kill does not take it along, blocks reading a pipe from us; the kernel closes that pipe when we
/// die, however we die. <see cref="Disarm"/> tells it to exit without cleaning.
/// </summary>
public sealed class OrphanGuard : IDisposable
{
    private readonly Process _launcher;
    private bool _done;

    private OrphanGuard(Process launcher) => _launcher = launcher;

    /// <param name="cleanupScript">bash commands run by the watcher (as root if we are root).</param>
    /// <param name="logFile">where the watcher writes what it did.</param>
    public static OrphanGuard Arm(string cleanupScript, string logFile) =>
        Start("if read -r -u 3 line && [ \"$line\" = disarm ]; then exit 0; fi\n"
            + "echo \"$(date -Is) owner gone: cleaning up\"\n"
            + cleanupScript, logFile);

    /// <summary>
    /// Starts a detached watcher running <paramref name="watcherScript"/>, which reads the lines this
    /// process sends (<see cref="Send"/>) from file descriptor 3 and sees end-of-file when we die.
    /// </summary>
    public static OrphanGuard Start(string watcherScript, string logFile)
    {
        // fd 3 carries the pipe into the detached watcher: a background job's stdin is /dev/null.
        const string launcher = """
            exec 3<&0 </dev/null >/dev/null 2>&1
            setsid bash -c "$1" pgha-orphan-guard 3<&3 >>"$2" 2>&1 &
            """;
        var watcher = watcherScript;
        var start = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(launcher);
        start.ArgumentList.Add("pgha-orphan-guard");
        start.ArgumentList.Add(watcher);
        start.ArgumentList.Add(logFile);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the orphan guard");
        process.WaitForExit();
        return new OrphanGuard(process);
    }

    /// <summary>Sends one line to the watcher; false when it is gone.</summary>
    public bool Send(string line)
    {
        if (_done) return false;
        try
        {
            lock (_launcher)
            {
                _launcher.StandardInput.WriteLine(line);
                _launcher.StandardInput.Flush();
            }
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The owner cleaned up itself: the watcher exits without doing anything.</summary>
    public void Disarm()
    {
        if (_done) return;
        _done = true;
        try
        {
            _launcher.StandardInput.WriteLine("disarm");
            _launcher.StandardInput.Flush();
        }
        catch (IOException)
        {
            // The watcher is already gone.
        }
    }

    /// <summary>Runs the cleanup now, in the watcher, as if the owner had died.</summary>
    public void Fire()
    {
        if (_done) return;
        _done = true;
        _launcher.StandardInput.Close();
    }

    public void Dispose()
    {
        Disarm();
        _launcher.Dispose();
    }
}
