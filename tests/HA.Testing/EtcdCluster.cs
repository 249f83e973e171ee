using System.Diagnostics;
using System.Globalization;
using HA.Agent.Postgres;

namespace HA.Testing;

/// <summary>
/// A real three-member etcd cluster (Debian's etcd-server) on free loopback ports, each member in its
/// own data directory under /tmp. Members can be killed and restarted for fault tests. Disposing stops
/// every member and removes the directories; an <see cref="OrphanGuard"/> does it if the test process dies.
/// </summary>
public sealed class EtcdCluster : IAsyncDisposable
{
    private readonly string _directory;
    private readonly FreePorts _ports;
    private readonly OrphanGuard _guard;
    private readonly Process?[] _members = new Process?[3];

    private EtcdCluster(string directory, FreePorts ports, OrphanGuard guard)
    {
        _directory = directory;
        _ports = ports;
        _guard = guard;
    }

    public int ClientPort(int member) => _ports.Ports[member];

    private int PeerPort(int member) => _ports.Ports[3 + member];

    /// <summary>Every member's client URL, comma-separated: lease.etcd.endpoints.</summary>
    public string Endpoints => string.Join(',', Enumerable.Range(0, 3).Select(i => $"http://127.0.0.1:{ClientPort(i)}"));

    public static async Task<EtcdCluster> StartAsync()
    {
        if (!File.Exists("/usr/bin/etcd")) throw new InvalidOperationException("etcd is not installed: ./test.sh installs Debian's etcd-server");
        var directory = Path.Combine(Path.GetTempPath(), TestCluster.DirectoryPrefix + "etcd-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var ports = FreePorts.Reserve(6);
        var guard = OrphanGuard.Arm($"pkill -9 -f -- '[-]-data-dir {directory}/'; rm -rf '{directory}'\n", Path.Combine(Path.GetTempPath(), "pgha-test-orphan-guard.log"));
        var cluster = new EtcdCluster(directory, ports, guard);
        try
        {
            for (var i = 0; i < 3; i++) cluster.Start(i, fresh: true);
            await cluster.WaitHealthyAsync(TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private void Start(int member, bool fresh)
    {
        var peers = string.Join(',', Enumerable.Range(0, 3).Select(i => $"m{i}=http://127.0.0.1:{PeerPort(i)}"));
        var start = new ProcessStartInfo("/usr/bin/etcd")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in new[]
        {
            "--name", $"m{member}", "--data-dir", $"{_directory}/m{member}/",
            "--listen-client-urls", $"http://127.0.0.1:{ClientPort(member)}", "--advertise-client-urls", $"http://127.0.0.1:{ClientPort(member)}",
            "--listen-peer-urls", $"http://127.0.0.1:{PeerPort(member)}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{PeerPort(member)}",
            "--initial-cluster", peers, "--initial-cluster-token", Path.GetFileName(_directory), "--initial-cluster-state", "new",
            "--logger", "zap", "--log-outputs", $"{_directory}/m{member}.log",
        })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _members[member] = process;
    }

    /// <summary>Turns authentication on with a root user and <paramref name="user"/> allowed to read and write /pgha/.</summary>
    public async Task EnableAuthenticationAsync(string user, string password)
    {
        var rootPassword = Guid.NewGuid().ToString("N");
        foreach (var command in new[]
        {
            new[] { "user", "add", $"root:{rootPassword}", "--interactive=false" },
            ["role", "add", "pgha"],
            ["role", "grant-permission", "pgha", "--prefix=true", "readwrite", "/pgha/"],
            ["user", "add", $"{user}:{password}", "--interactive=false"],
            ["user", "grant-role", user, "pgha"],
            ["auth", "enable"],
        })
        {
            var result = await OsCommand.RunAsync("/usr/bin/etcdctl", ["--endpoints", Endpoints, .. command], default,
                environment: new Dictionary<string, string> { ["ETCDCTL_API"] = "3" });
            if (!result.Succeeded) throw new InvalidOperationException($"etcdctl {string.Join(' ', command)}: {result.LastErrorLine}");
        }
    }

    /// <summary>kill -9 of one member.</summary>
    public void Kill(int member)
    {
        var process = _members[member];
        if (process is null) return;
        process.Kill();
        process.WaitForExit();
        process.Dispose();
        _members[member] = null;
    }

    public void Restart(int member)
    {
        Kill(member);
        Start(member, fresh: false);
    }

    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        await Eventually.HoldsAsync(async () =>
        {
            var health = await OsCommand.RunAsync("/usr/bin/etcdctl", ["--endpoints", Endpoints, "--command-timeout", "2s", "endpoint", "health"], default,
                environment: new Dictionary<string, string> { ["ETCDCTL_API"] = "3" });
            return health.StandardOutput + health.StandardError;
        }, text => text.Split('\n').Count(l => l.Contains("is healthy", StringComparison.Ordinal)) == _members.Count(m => m is not null), timeout, "etcd members to be healthy");
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < 3; i++) Kill(i);
        await Task.Yield();
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
        _guard.Disarm();
        _guard.Dispose();
        _ports.Dispose();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"etcd {Endpoints}");
}
