using HA.Agent.Directives;
using HA.Agent.Postgres;
using HA.Agent.Runtime;
using HA.Core.Agent;
using Microsoft.Extensions.Logging.Abstractions;

namespace HA.Agent.Tests.Runtime;

/// <summary>What the agent reads of its data directory: the base backup rule decides on it, and never touches one holding something else.</summary>
public sealed class what_a_data_directory_holds : IDisposable
{
    private readonly string _node = Directory.CreateTempSubdirectory("pgha-datadir-").FullName;

    private string Data => Path.Combine(_node, "data");
    private string State => Path.Combine(_node, "agent");

    private async Task<BaseBackupCloner> ClonerAsync()
    {
        var settings = new NodeSettings { Name = "n2", NodeDirectory = _node, Port = 5432 };
        var instance = new PostgresInstance(settings, new PostgresBinaries("/nonexistent", 17), await PostgresOsUser.ResolveAsync(null, CancellationToken.None));
        Directory.CreateDirectory(State);
        return new BaseBackupCloner(new NodeAgentContext(instance, new ClusterCredentials("s", "r"), new Dictionary<string, ReplicationSource>()), State, NullLogger.Instance);
    }

    [Fact]
    public async Task no_directory_or_an_empty_one_wants_a_base_backup_and_a_marker_says_one_was_interrupted()
    {
        var cloner = await ClonerAsync();
        Assert.Equal(DataDirectoryState.Empty, cloner.DataDirectory);

        Directory.CreateDirectory(Data);
        Assert.Equal(DataDirectoryState.Empty, cloner.DataDirectory);

        await File.WriteAllTextAsync(Path.Combine(Data, "PG_VERSION"), "17\n");
        Assert.Equal(DataDirectoryState.Ready, cloner.DataDirectory);

        await File.WriteAllTextAsync(Path.Combine(State, "base-backup-in-progress"), "n1\n");
        Assert.Equal(DataDirectoryState.BaseBackupInterrupted, cloner.DataDirectory);
    }

    [Fact]
    public async Task a_directory_holding_something_else_is_unrecognized()
    {
        var cloner = await ClonerAsync();
        Directory.CreateDirectory(Data);
        await File.WriteAllTextAsync(Path.Combine(Data, "notes.txt"), "mine");

        Assert.Equal(DataDirectoryState.Unrecognized, cloner.DataDirectory);
    }

    public void Dispose() => Directory.Delete(_node, recursive: true);
}
