using HA.Agent.Directives;
using HA.Agent.Postgres;
using HA.Core.Agent;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Runtime;

/// <summary>
/// A replica's base backup from the primary: for a new member, a node whose disk was replaced, or one
/// whose base backup was interrupted (a marker file says so; it is started again from scratch). A data
/// directory holding something else is never touched (<c>pgha run</c> refuses to start on one).
/// </summary>
public sealed class BaseBackupCloner(NodeAgentContext context, string stateDirectory, ILogger logger)
{
    private PostgresInstance Instance => context.Instance;
    private string Node => Instance.Settings.Name;
    private string Marker => Path.Combine(stateDirectory, "base-backup-in-progress");

    /// <summary>What the data directory holds now.</summary>
    public DataDirectoryState DataDirectory
    {
        get
        {
            if (File.Exists(Marker)) return DataDirectoryState.BaseBackupInterrupted;
            if (Instance.DataDirectoryExists) return DataDirectoryState.Ready;
            var directory = Instance.Settings.DataDirectory;
            return !Directory.Exists(directory) || !Directory.EnumerateFileSystemEntries(directory).Any() ? DataDirectoryState.Empty : DataDirectoryState.Unrecognized;
        }
    }

    /// <summary>Takes a base backup from <paramref name="primary"/> (pg_basebackup through this node's own slot), then starts as its standby.</summary>
    /// <param name="publish">tells the heartbeat how it goes</param>
    public async Task CloneAsync(string primary, Action<string?> publish, CancellationToken cancellationToken)
    {
        if (!context.Peers.TryGetValue(primary, out var source))
        {
            publish("no data directory yet: waiting for a primary to take a base backup from");
            return;
        }
        publish($"taking a base backup from {primary}");
        logger.LogInformation("Agent {Node}: no data directory: taking a base backup from the primary {Primary} ({Host}:{Port}) through slot {Slot}",
            Node, primary, source.Host, source.Port, Instance.Settings.SlotName);
        await File.WriteAllTextAsync(Marker, $"{primary}\n", cancellationToken).ConfigureAwait(false);
        try
        {
            await Instance.ReinitializeAsync(source, context.Credentials, cancellationToken).ConfigureAwait(false);
            File.Delete(Marker);
            publish(null);
            logger.LogInformation("Agent {Node}: base backup from {Primary} done; streaming from it", Node, primary);
        }
        catch (PostgresCommandFailed e)
        {
            publish(e.Message);
            logger.LogWarning("Agent {Node}: base backup from {Primary} failed: {Error}", Node, primary, e.Message);
        }
    }
}
