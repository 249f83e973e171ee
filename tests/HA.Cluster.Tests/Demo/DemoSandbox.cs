using System.Globalization;
using HA.Agent.Postgres;
using HA.Testing;

namespace HA.Cluster.Tests.Demo;

/// <summary>A temporary demo directory and a block of free ports; disposing destroys whatever a demo left there.</summary>
public sealed class DemoSandbox : IAsyncDisposable
{
    private readonly FreePorts _ports;

    public DemoSandbox(int ports = 4)
    {
        _ports = FreePorts.ReserveConsecutive(ports);
        Directory = Path.Combine(Path.GetTempPath(), TestCluster.DirectoryPrefix + "demo-" + Guid.NewGuid().ToString("N")[..8]);
    }

    public string Directory { get; }

    public int BasePort => _ports.Ports[0];

    public IReadOnlyList<int> Ports => _ports.Ports;

    public string BasePortText => BasePort.ToString(CultureInfo.InvariantCulture);

    /// <summary>Arguments that point a demo command at this sandbox.</summary>
    public string[] Demo(params string[] more) => ["demo", .. more, "--dir", Directory];

    public IReadOnlyList<int> PostgresProcesses() => HA.Agent.Postgres.PostgresProcesses.Under(Directory);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(Directory, "demo.json")))
                await PghaProcess.RunAsync("demo", "destroy", "--dir", Directory);
            foreach (var pid in PostgresProcesses())
            {
                try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
            }
            if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
        }
        finally
        {
            _ports.Dispose();
        }
    }
}
