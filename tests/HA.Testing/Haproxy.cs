using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace HA.Testing;

/// <summary>One backend server of a <see cref="Haproxy"/> listener: the PostgreSQL port and the pgha API port its health check asks.</summary>
public sealed record HaproxyServer(string Name, int PostgresPort, int ApiPort);

/// <summary>
/// Debian's haproxy run in the foreground as a child process, configured the way Patroni's users
/// configure it: one TCP listener per health check (<c>option httpchk</c> against a pgha node's API,
/// <c>http-check expect status 200</c>, <c>check port</c> the API port, <c>on-marked-down
/// shutdown-sessions</c>). The configuration is written to a temporary directory; disposing kills the
/// process and removes the directory, whether the test passed or not (and an orphan guard does it if the
/// test process dies first).
/// </summary>
public sealed class Haproxy : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _directory;
    private readonly HA.Agent.Postgres.OrphanGuard _guard;

    private Haproxy(Process process, string directory, string config)
    {
        _process = process;
        _directory = directory;
        Config = config;
        // A test process killed before disposing this must not leave haproxy holding its ports.
        _guard = HA.Agent.Postgres.OrphanGuard.Arm(
            string.Create(CultureInfo.InvariantCulture, $"kill -9 {process.Id} 2>/dev/null; rm -rf '{directory}'\n"),
            Path.Combine(Path.GetTempPath(), "pgha-test-orphan-guard.log"));
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The configuration haproxy runs with (for failure messages and the docs).</summary>
    public string Config { get; }

    /// <summary>What haproxy printed so far.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Where Debian's package installs it; scripts/prerequisites.sh --test installs the package.</summary>
    public static string Executable => File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy";

    /// <summary>
    /// The configuration: for each listener (name → loopback port, API path checked), the servers
    /// checked every 500 ms through their API, marked down after two failed checks and up after one.
    /// </summary>
    public static string Render(IEnumerable<(string Name, int Port, string CheckPath)> listeners, IReadOnlyList<HaproxyServer> servers)
    {
        var config = new StringBuilder();
        config.AppendLine("global").AppendLine("    maxconn 200").AppendLine()
            .AppendLine("defaults")
            .AppendLine("    mode tcp")
            .AppendLine("    retries 2")
            .AppendLine("    timeout connect 2s")
            .AppendLine("    timeout client 60s")
            .AppendLine("    timeout server 60s")
            .AppendLine("    timeout check 2s");
        foreach (var (name, port, path) in listeners)
        {
            config.AppendLine()
                .AppendLine(CultureInfo.InvariantCulture, $"listen {name}")
                .AppendLine(CultureInfo.InvariantCulture, $"    bind 127.0.0.1:{port}")
                .AppendLine(CultureInfo.InvariantCulture, $"    option httpchk OPTIONS {path}")
                .AppendLine("    http-check expect status 200")
                .AppendLine("    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions");
            foreach (var server in servers)
                config.AppendLine(CultureInfo.InvariantCulture, $"    server {server.Name} 127.0.0.1:{server.PostgresPort} maxconn 100 check port {server.ApiPort}");
        }
        return config.ToString();
    }

    /// <summary>Writes <paramref name="config"/>, checks it with <c>haproxy -c</c>, starts haproxy and waits until it accepts on <paramref name="ports"/>.</summary>
    public static async Task<Haproxy> StartAsync(string config, IEnumerable<int> ports, TimeSpan timeout)
    {
        var directory = Directory.CreateTempSubdirectory("pgha-haproxy-").FullName;
        var path = Path.Combine(directory, "haproxy.cfg");
        await File.WriteAllTextAsync(path, config);
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo(Executable, ["-db", "-f", path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("haproxy did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Directory.Delete(directory, recursive: true);
            throw new InvalidOperationException($"haproxy cannot be run ({e.Message}): install it with scripts/prerequisites.sh --test (Debian's haproxy package)", e);
        }
        var haproxy = new Haproxy(process, directory, config);
        try
        {
            foreach (var port in ports)
                await Eventually.HoldsAsync(() => AcceptsAsync(port, process), accepts => accepts, timeout, $"haproxy to listen on {port}");
            return haproxy;
        }
        catch (Exception e)
        {
            var output = haproxy.Output;
            await haproxy.DisposeAsync();
            throw new InvalidOperationException($"haproxy did not start: {e.Message}\n{output}\n{config}", e);
        }
    }

    private static async Task<bool> AcceptsAsync(int port, Process process)
    {
        if (process.HasExited) throw new InvalidOperationException($"haproxy exited with {process.ExitCode}");
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            _guard.Dispose();
            _process.Dispose();
            try { Directory.Delete(_directory, recursive: true); }
            catch (IOException) { }
        }
    }
}
