using Xunit;
using HA.Agent.Local;
using HA.Agent.Postgres;

namespace HA.Testing;

/// <summary>
/// A real local cluster (witness + primary + replicas) in its own temporary directory on free loopback
/// ports, owned by one test or one test collection. Disposing it stops every process and removes the
/// directory; if the test process dies first, an <see cref="OrphanGuard"/> does the same.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    /// <summary>Every test cluster lives under this prefix; CI checks that no process outlives it.</summary>
    public const string DirectoryPrefix = "pgha-test-";

    private readonly FreePorts _ports;
    private readonly OrphanGuard _guard;

    private TestCluster(LocalCluster cluster, FreePorts ports, OrphanGuard guard)
    {
        Cluster = cluster;
        _ports = ports;
        _guard = guard;
    }

    public LocalCluster Cluster { get; }

    public string Directory => Cluster.Directory;

    public PostgresInstance Primary => Cluster.CurrentPrimary();

    public IReadOnlyList<PostgresInstance> Replicas => Cluster.Nodes.Where(n => n != Cluster.CurrentPrimary()).ToList();

    /// <summary>Creates and starts a cluster of <paramref name="nodes"/> nodes and waits until every replica streams.</summary>
    public static async Task<TestCluster> StartAsync(int nodes = 3, CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(Path.GetTempPath(), DirectoryPrefix + Guid.NewGuid().ToString("N")[..10]);
        var ports = FreePorts.Reserve(nodes + 1);
        OrphanGuard? guard = null;
        try
        {
            var topology = new LocalTopology("test", ports.Ports[0],
                Enumerable.Range(1, nodes).Select(i => new LocalNodeSpec($"n{i}", ports.Ports[i])).ToList());
            var cluster = await LocalCluster.OpenAsync(directory, topology, ClusterCredentials.Generate(),
                new LocalClusterOptions { Parameters = new Dictionary<string, string> { ["fsync"] = "off", ["max_connections"] = "40" } },
                cancellationToken);
            // Agents started on this cluster (pgha run --config <dir>/<node>.yaml) go first, or they would restart what is stopped.
            guard = OrphanGuard.Arm($"pkill -KILL -f -- '[-]-config {directory}/' || true\n" + cluster.CleanupScript(StopMode.Immediate, removeDirectory: true),
                Path.Combine(Path.GetTempPath(), "pgha-test-orphan-guard.log"));
            await cluster.StartAsync(cancellationToken, removeOnFailure: true);
            var testCluster = new TestCluster(cluster, ports, guard);
            try
            {
                await cluster.WaitForStreamingAsync(TimeSpan.FromSeconds(90), cancellationToken);
            }
            catch
            {
                await testCluster.DisposeAsync();
                throw;
            }
            return testCluster;
        }
        catch
        {
            // The guard cleans whatever StartAsync left; without a guard nothing was created.
            guard?.Fire();
            ports.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Cluster.DestroyAsync(CancellationToken.None);
            _guard.Disarm();
        }
        catch
        {
            _guard.Fire();
            throw;
        }
        finally
        {
            _guard.Dispose();
            _ports.Dispose();
        }
    }
}

/// <summary>A three-node cluster shared by the tests of one class that only read or write rows (xunit class fixture).</summary>
public sealed class SharedClusterFixture : IAsyncLifetime
{
    private TestCluster? _cluster;

    public TestCluster Cluster => _cluster ?? throw new InvalidOperationException("the cluster is not started");

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(3);

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}
