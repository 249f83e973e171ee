using HA.Agent.Postgres;
using Npgsql;
using Xunit;

namespace HA.Testing;

/// <summary>
/// A real witness PostgreSQL (one instance, no replicas) in a temporary directory on a free port, for
/// tests of the witness store. Each test takes its own database with <see cref="NewDatabaseAsync"/>,
/// so tests sharing one server never see each other's data. Stopped and removed on dispose, or by an
/// <see cref="OrphanGuard"/> if the test process dies.
/// </summary>
public sealed class TestWitness : IAsyncLifetime
{
    /// <summary>Tests trade durability for speed; benchmarks pass their own (durable) settings.</summary>
    private static readonly Dictionary<string, string> FastSettings = new() { ["fsync"] = "off", ["synchronous_commit"] = "off", ["max_connections"] = "200" };

    private readonly IReadOnlyDictionary<string, string> _parameters = FastSettings;

    /// <summary>The fast settings tests use (xunit builds fixtures through this one public constructor).</summary>
    public TestWitness()
    {
    }

    private TestWitness(IReadOnlyDictionary<string, string> parameters) => _parameters = parameters;

    /// <summary>A witness with these postgresql.conf settings instead of the fast test ones (benchmarks: durable).</summary>
    public static TestWitness WithSettings(IReadOnlyDictionary<string, string> parameters) => new(parameters);

    private FreePorts? _ports;
    private OrphanGuard? _guard;
    private PostgresInstance? _instance;
    private string _directory = "";
    private int _databases;

    public PostgresInstance Instance => _instance ?? throw new InvalidOperationException("the witness is not started");

    public async Task InitializeAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), TestCluster.DirectoryPrefix + "witness-" + Guid.NewGuid().ToString("N")[..8]);
        _ports = FreePorts.Reserve(1);
        var binaries = await PostgresBinaries.LocateAsync(null, default);
        var osUser = await PostgresOsUser.ResolveAsync(null, default);
        var settings = new NodeSettings
        {
            Name = "witness",
            NodeDirectory = Path.Combine(_directory, "witness"),
            Port = _ports.Ports[0],
            Parameters = _parameters,
        };
        _instance = new PostgresInstance(settings, binaries, osUser);
        Directory.CreateDirectory(_directory);
        _guard = OrphanGuard.Arm(
            $"runuser -u {osUser.Name} -- {binaries.Path("pg_ctl")} stop -D '{settings.DataDirectory}' -m immediate -s; rm -rf '{_directory}'\n",
            Path.Combine(Path.GetTempPath(), "pgha-test-orphan-guard.log"));
        await _instance.InitializeAsync(ClusterCredentials.Generate(), default);
        await _instance.StartAsync(default);
    }

    /// <summary>A new empty database on the witness server, and a connection string to it (superuser, Unix socket).</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = $"witness_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..30];
        await using (var connection = new NpgsqlConnection(NodeProbe.ConnectionString(Instance.Settings)))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(NodeProbe.ConnectionString(Instance.Settings, name)) { Pooling = true, MaxPoolSize = 20 }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_instance is not null) await _instance.StopAsync(StopMode.Immediate, default);
            if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
            _guard?.Disarm();
        }
        catch
        {
            _guard?.Fire();
            throw;
        }
        finally
        {
            _guard?.Dispose();
            _ports?.Dispose();
        }
    }
}
