using System.Globalization;
using System.Text;

namespace HA.Agent.Postgres;

/// <summary>How pg_ctl stops a server.</summary>
public enum StopMode
{
    /// <summary>Waits for clients to disconnect.</summary>
    Smart,
    /// <summary>Disconnects clients, checkpoints, exits cleanly.</summary>
    Fast,
    /// <summary>Exits at once without a checkpoint; crash recovery runs at the next start.</summary>
    Immediate,
}

/// <summary>
/// Controls one local PostgreSQL instance with its own programs (initdb, pg_ctl, pg_basebackup) and
/// the settings a managed node needs. Every program runs as the PostgreSQL OS user.
/// </summary>
public sealed class PostgresInstance(NodeSettings settings, PostgresBinaries binaries, PostgresOsUser osUser)
{
    /// <summary>The file pgha owns inside the data directory; postgresql.conf includes it.</summary>
    public const string ManagedConfigFile = "postgresql.pgha.conf";

    private static readonly TimeSpan ServerTimeout = TimeSpan.FromSeconds(90);

    private volatile IReadOnlyList<string>? _hbaNetworks;

    public NodeSettings Settings => settings;

    /// <summary>The networks pg_hba.conf lets in over TCP: the settings' until <see cref="AllowNetworksAsync"/> replaced them.</summary>
    public IReadOnlyList<string> HbaNetworks => _hbaNetworks ?? settings.HbaNetworks;

    public bool DataDirectoryExists => File.Exists(Path.Combine(settings.DataDirectory, "PG_VERSION"));

    /// <summary>Creates a new primary's data directory with data checksums and the managed settings.</summary>
    public async Task InitializeAsync(ClusterCredentials credentials, CancellationToken cancellationToken)
    {
        await PrepareNodeDirectoryAsync(credentials, cancellationToken).ConfigureAwait(false);
        var passwordFile = Path.Combine(settings.NodeDirectory, "initdb.pw");
        await osUser.WritePrivateFileAsync(passwordFile, credentials.SuperuserPassword + "\n", cancellationToken).ConfigureAwait(false);
        try
        {
            await RunAsync("initdb",
            [
                "-D", settings.DataDirectory, "-U", settings.Superuser, "--pwfile", passwordFile,
                "--data-checksums", "-E", "UTF8", "--locale", "C",
                "--auth-local", "trust", "--auth-host", "scram-sha-256", "--no-instructions",
            ], cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(passwordFile);
        }
        await WriteConfigurationAsync(source: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates this node as a streaming standby of <paramref name="source"/>: pg_basebackup through a
    /// physical slot named after the node, then <c>primary_conninfo</c> and <c>standby.signal</c>.
    /// </summary>
    public async Task CreateReplicaAsync(ReplicationSource source, ClusterCredentials credentials, CancellationToken cancellationToken)
    {
        await PrepareNodeDirectoryAsync(credentials, cancellationToken).ConfigureAwait(false);
        List<string> arguments =
        [
            "-D", settings.DataDirectory, "-h", source.Host, "-p", source.Port.ToString(CultureInfo.InvariantCulture),
            "-U", settings.ReplicationUser, "-X", "stream", "-c", "fast", "-S", settings.SlotName, "-w", "--no-password",
        ];
        var first = await RunRawAsync("pg_basebackup", [.. arguments, "-C"], cancellationToken).ConfigureAwait(false);
        if (!first.Succeeded)
        {
            // The slot survives from an earlier life of this node: stream through it again.
            if (!first.StandardError.Contains("already exists", StringComparison.Ordinal))
                throw Failure("pg_basebackup", first);
            await RemoveDirectoryContentsAsync(settings.DataDirectory, cancellationToken).ConfigureAwait(false);
            var second = await RunRawAsync("pg_basebackup", arguments, cancellationToken).ConfigureAwait(false);
            if (!second.Succeeded) throw Failure("pg_basebackup", second);
        }
        await WriteConfigurationAsync(source, cancellationToken).ConfigureAwait(false);
        await WriteOwnedFileAsync(Path.Combine(settings.DataDirectory, "standby.signal"), "", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the managed settings (port, listen address, socket directory, replication settings,
    /// upstream when a standby) and pg_hba.conf. Takes effect at the next start or reload.
    /// </summary>
    public async Task WriteConfigurationAsync(ReplicationSource? source, CancellationToken cancellationToken)
    {
        var managed = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["listen_addresses"] = settings.ListenAddress,
            ["port"] = settings.Port.ToString(CultureInfo.InvariantCulture),
            ["unix_socket_directories"] = settings.SocketDirectory,
            ["cluster_name"] = settings.Name,
            ["wal_level"] = "replica",
            ["hot_standby"] = "on",
            ["max_wal_senders"] = "10",
            ["max_replication_slots"] = "10",
            ["wal_keep_size"] = "128MB",
            ["wal_log_hints"] = "on",
            ["hot_standby_feedback"] = "on",
            ["wal_receiver_status_interval"] = "1s",
            // A standby whose upstream was just promoted reconnects across the timeline switch after this
            // (5 s by default): measured, it made a switchover right after another one wait 5 s.
            ["wal_retrieve_retry_interval"] = "500ms",
            ["logging_collector"] = "off",
            ["log_line_prefix"] = "%m [%p] %q%u@%d ",
            ["shared_buffers"] = "32MB",
        };
        if (source is not null)
        {
            managed["primary_conninfo"] =
                $"host={source.Host} port={source.Port} user={settings.ReplicationUser} passfile={settings.PassFile} application_name={settings.Name} connect_timeout=2";
            managed["primary_slot_name"] = settings.SlotName;
        }
        foreach (var (key, value) in settings.Parameters) managed[key] = value;

        var conf = new StringBuilder("# Written by pgha for node ").Append(settings.Name)
            .Append(". Rewritten on every reconfiguration: change settings through pgha, not here.\n");
        foreach (var (key, value) in managed) conf.Append(key).Append(" = '").Append(value.Replace("'", "''", StringComparison.Ordinal)).Append("'\n");
        await WriteOwnedFileAsync(Path.Combine(settings.DataDirectory, ManagedConfigFile), conf.ToString(), cancellationToken).ConfigureAwait(false);

        var postgresqlConf = Path.Combine(settings.DataDirectory, "postgresql.conf");
        var include = $"include '{ManagedConfigFile}'";
        var existing = await File.ReadAllTextAsync(postgresqlConf, cancellationToken).ConfigureAwait(false);
        if (!existing.Contains(include, StringComparison.Ordinal))
            await File.AppendAllTextAsync(postgresqlConf, $"\n# Managed node settings (pgha)\n{include}\n", cancellationToken).ConfigureAwait(false);

        await WriteHbaAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lets exactly <paramref name="networks"/> in over TCP (a member joined from another host): rewrites
    /// pg_hba.conf and reloads a running server when they changed; true when they did.
    /// </summary>
    public async Task<bool> AllowNetworksAsync(IReadOnlyList<string> networks, CancellationToken cancellationToken)
    {
        if (HbaNetworks.Order(StringComparer.Ordinal).SequenceEqual(networks.Order(StringComparer.Ordinal), StringComparer.Ordinal)) return false;
        _hbaNetworks = [.. networks];
        if (!DataDirectoryExists) return true;
        await WriteHbaAsync(cancellationToken).ConfigureAwait(false);
        if (ServerProcessId() is not null) await ReloadAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task WriteHbaAsync(CancellationToken cancellationToken)
    {
        var hba = new StringBuilder("# Written by pgha. TYPE DATABASE USER ADDRESS METHOD\n")
            .Append("local all all trust\n")
            .Append("local replication all trust\n");
        foreach (var network in HbaNetworks)
        {
            hba.Append("host all all ").Append(network).Append(" scram-sha-256\n");
            hba.Append("host replication ").Append(settings.ReplicationUser).Append(' ').Append(network).Append(" scram-sha-256\n");
        }
        await WriteOwnedFileAsync(Path.Combine(settings.DataDirectory, "pg_hba.conf"), hba.ToString(), cancellationToken).ConfigureAwait(false);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        RemoveStaleLockFile();
        return RunAsync("pg_ctl", ["start", "-D", settings.DataDirectory, "-l", settings.LogFile, "-w", "-t", Seconds(ServerTimeout), "-s"], cancellationToken);
    }

    /// <summary>
    /// A postmaster killed with -9 whose parent has not reaped it yet is a zombie that PostgreSQL's own
    /// check takes for a running server ("lock file already exists"): its postmaster.pid goes once
    /// <see cref="ServerProcessId"/> knows no live postmaster owns it.
    /// </summary>
    private void RemoveStaleLockFile()
    {
        if (ServerProcessId() is not null) return;
        var lockFile = Path.Combine(settings.DataDirectory, "postmaster.pid");
        if (File.Exists(lockFile)) File.Delete(lockFile);
        // The socket's lock file names the same dead postmaster.
        var socketLock = Path.Combine(settings.SocketDirectory, $".s.PGSQL.{settings.Port.ToString(CultureInfo.InvariantCulture)}.lock");
        if (File.Exists(socketLock)) File.Delete(socketLock);
    }

    /// <summary>Stops the server; stopping a server that is not running succeeds.</summary>
    public async Task StopAsync(StopMode mode, CancellationToken cancellationToken)
    {
        if (ServerProcessId() is null) return;
        var result = await RunRawAsync("pg_ctl", ["stop", "-D", settings.DataDirectory, "-m", mode.ToString().ToLowerInvariant(), "-w", "-t", Seconds(ServerTimeout), "-s"], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && ServerProcessId() is not null) throw Failure("pg_ctl stop", result);
    }

    public async Task RestartAsync(StopMode mode, CancellationToken cancellationToken)
    {
        await StopAsync(mode, cancellationToken).ConfigureAwait(false);
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task ReloadAsync(CancellationToken cancellationToken) =>
        RunAsync("pg_ctl", ["reload", "-D", settings.DataDirectory, "-s"], cancellationToken);

    /// <summary>Ends recovery on a standby and waits until it accepts writes on a new timeline.</summary>
    public Task PromoteAsync(CancellationToken cancellationToken) =>
        RunAsync("pg_ctl", ["promote", "-D", settings.DataDirectory, "-w", "-t", Seconds(ServerTimeout), "-s"], cancellationToken);

    /// <summary>
    /// Turns a stopped or running former primary into a standby of <paramref name="source"/> without
    /// rewinding: clean stop, <c>standby.signal</c>, <c>primary_conninfo</c>, start. Right only when it
    /// has nothing the new primary lacks (a clean switchover); otherwise rewind.
    /// </summary>
    /// <returns>the location of the shutdown checkpoint, the old primary's last WAL record: the new primary must have replayed up to it</returns>
    public async Task<string> DemoteAsync(ReplicationSource source, CancellationToken cancellationToken)
    {
        await StopAsync(StopMode.Fast, cancellationToken).ConfigureAwait(false);
        var final = await ControlValueAsync("Latest checkpoint location:", cancellationToken).ConfigureAwait(false);
        await BecomeStandbyAsync(source, cancellationToken).ConfigureAwait(false);
        await StartAsync(cancellationToken).ConfigureAwait(false);
        return final;
    }

    /// <summary>Points a running standby at another upstream: new <c>primary_conninfo</c>, then reload (no restart since PostgreSQL 13).</summary>
    public async Task RepointAsync(ReplicationSource source, CancellationToken cancellationToken)
    {
        await WriteConfigurationAsync(source, cancellationToken).ConfigureAwait(false);
        if (ServerProcessId() is not null) await ReloadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Rejoins a former primary that diverged: crash recovery first if it did not stop cleanly (pg_rewind
    /// needs a clean shutdown), pg_rewind from <paramref name="source"/>, then start as its standby.
    /// </summary>
    public async Task RewindAsync(ReplicationSource source, CancellationToken cancellationToken)
    {
        await StopAsync(StopMode.Fast, cancellationToken).ConfigureAwait(false);
        if (!await ShutDownCleanlyAsync(cancellationToken).ConfigureAwait(false))
        {
            RemoveStaleLockFile();
            // Single-user mode replays the WAL to a consistent state and shuts down cleanly.
            var recovery = await RunRawAsync("postgres", ["--single", "-D", settings.DataDirectory, "postgres"], cancellationToken).ConfigureAwait(false);
            if (!recovery.Succeeded) throw Failure("crash recovery (postgres --single)", recovery);
        }
        // A just-promoted source shows its new timeline in pg_control only after a checkpoint; without
        // one pg_rewind sees the old timeline and wrongly decides that no rewind is required.
        await using (var connection = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder
        {
            Host = source.Host,
            Port = source.Port,
            Username = settings.Superuser,
            Database = "postgres",
            Passfile = settings.PassFile,
            Pooling = false,
            Timeout = 5,
        }.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var checkpoint = new Npgsql.NpgsqlCommand("CHECKPOINT", connection) { CommandTimeout = 300 };
            await checkpoint.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        var conninfo = $"host={source.Host} port={source.Port} user={settings.Superuser} dbname=postgres passfile={settings.PassFile} connect_timeout=5";
        var rewind = await RunRawAsync("pg_rewind", ["-D", settings.DataDirectory, "--source-server", conninfo], cancellationToken).ConfigureAwait(false);
        if (!rewind.Succeeded) throw Failure("pg_rewind", rewind);
        await BecomeStandbyAsync(source, cancellationToken).ConfigureAwait(false);
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Throws the data directory away and builds it again from <paramref name="source"/> (pg_basebackup), then starts as its standby.</summary>
    public async Task ReinitializeAsync(ReplicationSource source, ClusterCredentials credentials, CancellationToken cancellationToken)
    {
        await StopAsync(StopMode.Immediate, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(settings.DataDirectory)) await RemoveDirectoryContentsAsync(settings.DataDirectory, cancellationToken).ConfigureAwait(false);
        await CreateReplicaAsync(source, credentials, cancellationToken).ConfigureAwait(false);
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What pg_controldata says of the cluster state ("shut down", "in production", "shut down in recovery", ...).</summary>
    public Task<string> ControlStateAsync(CancellationToken cancellationToken) => ControlValueAsync("Database cluster state:", cancellationToken);

    /// <summary>One value pg_controldata prints, by its label ("Latest checkpoint location:").</summary>
    public async Task<string> ControlValueAsync(string label, CancellationToken cancellationToken)
    {
        var control = await RunRawAsync("pg_controldata", ["-D", settings.DataDirectory], cancellationToken).ConfigureAwait(false);
        if (!control.Succeeded) throw Failure("pg_controldata", control);
        var line = control.StandardOutput.Split('\n').FirstOrDefault(l => l.StartsWith(label, StringComparison.Ordinal));
        return line?[label.Length..].Trim() ?? "unknown";
    }

    private async Task<bool> ShutDownCleanlyAsync(CancellationToken cancellationToken) =>
        await ControlStateAsync(cancellationToken).ConfigureAwait(false) is "shut down" or "shut down in recovery";

    private async Task BecomeStandbyAsync(ReplicationSource source, CancellationToken cancellationToken)
    {
        await WriteConfigurationAsync(source, cancellationToken).ConfigureAwait(false);
        await WriteOwnedFileAsync(Path.Combine(settings.DataDirectory, "standby.signal"), "", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// bash commands that stop this server at once when it runs as a primary (no standby.signal): what
    /// an agent's watchdog runs when the agent dies, so that a primary is never left without the agent
    /// that keeps its lease and would fence it.
    /// </summary>
    public string StopPrimaryScript()
    {
        static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var data = Quote(settings.DataDirectory);
        var runAs = osUser.RunAs is null ? "" : $"runuser -u {osUser.RunAs} -- ";
        return $"if [ -f {data}/postmaster.pid ] && [ ! -f {data}/standby.signal ]; then echo \"$(date -Is) stopping primary {settings.Name} (immediate)\"; "
            + $"{runAs}{Quote(binaries.Path("pg_ctl"))} stop -D {data} -m immediate -w -t 30 -s || kill -9 \"$(head -1 {data}/postmaster.pid)\"; fi\n";
    }

    /// <summary>The postmaster's process id when it runs, from postmaster.pid checked against /proc.</summary>
    public int? ServerProcessId() => ServerProcessIdOf(settings.DataDirectory);

    public static int? ServerProcessIdOf(string dataDirectory)
    {
        string? firstLine;
        try
        {
            firstLine = File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).FirstOrDefault();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        if (!int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        try
        {
            // A stale pid file (kill -9) may name a pid that was reused by another program.
            var comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
            if (comm is not ("postgres" or "postmaster")) return null;
            // A killed postmaster nobody has reaped yet is a zombie: not running.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] == 'Z' ? null : pid;
        }
        catch (IOException) { return null; }
    }

    private async Task PrepareNodeDirectoryAsync(ClusterCredentials credentials, CancellationToken cancellationToken)
    {
        await osUser.CreateOwnedDirectoryAsync(settings.NodeDirectory, cancellationToken).ConfigureAwait(false);
        await osUser.CreateOwnedDirectoryAsync(settings.SocketDirectory, cancellationToken).ConfigureAwait(false);
        await osUser.CreateOwnedDirectoryAsync(settings.DataDirectory, cancellationToken).ConfigureAwait(false);
        await osUser.WritePrivateFileAsync(settings.PassFile,
            $"*:*:*:{settings.ReplicationUser}:{credentials.ReplicationPassword}\n*:*:*:{settings.Superuser}:{credentials.SuperuserPassword}\n",
            cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteOwnedFileAsync(string path, string content, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(path, content, cancellationToken).ConfigureAwait(false);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await osUser.ChownAsync(path, cancellationToken).ConfigureAwait(false);
    }

    private static Task RemoveDirectoryContentsAsync(string directory, CancellationToken cancellationToken)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (entry is DirectoryInfo d) d.Delete(recursive: true); else entry.Delete();
        }
        return Task.CompletedTask;
    }

    private async Task RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await RunRawAsync(program, arguments, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded) throw Failure(program == "pg_ctl" ? $"pg_ctl {arguments[0]}" : program, result);
    }

    private Task<OsCommandResult> RunRawAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        OsCommand.RunAsync(binaries.Path(program), arguments, cancellationToken,
            runAsUser: osUser.RunAs,
            environment: new Dictionary<string, string> { ["PGPASSFILE"] = settings.PassFile, ["PGCONNECT_TIMEOUT"] = "5" },
            workingDirectory: settings.NodeDirectory,
            timeout: ServerTimeout + TimeSpan.FromSeconds(30));

    /// <summary>One line: what failed, the program's last error line and, for the server, the log's own reason.</summary>
    private PostgresCommandFailed Failure(string what, OsCommandResult result)
    {
        var reason = result.LastErrorLine;
        if (what.StartsWith("pg_ctl", StringComparison.Ordinal) && File.Exists(settings.LogFile))
        {
            if (ServerLogReason(settings.LogFile) is { } logReason) reason += $"; server log: {logReason}";
            reason += $" (log: {settings.LogFile})";
        }
        return new PostgresCommandFailed($"{what} failed for node {settings.Name}: {reason}");
    }

    /// <summary>
    /// The server's own explanation of its last fatal error: the FATAL (or PANIC) line and the line
    /// before it, which usually names the cause ("invalid value for parameter ...", "could not bind ...").
    /// </summary>
    internal static string? ServerLogReason(string logFile)
    {
        var tail = File.ReadLines(logFile).TakeLast(50).ToList();
        var fatal = tail.FindLastIndex(l => l.Contains("FATAL:", StringComparison.Ordinal) || l.Contains("PANIC:", StringComparison.Ordinal));
        if (fatal < 0) return null;
        static string Strip(string line) => line[(line.IndexOf("] ", StringComparison.Ordinal) + 1)..].Trim();
        var cause = fatal > 0 && !tail[fatal - 1].Contains("FATAL:", StringComparison.Ordinal) ? Strip(tail[fatal - 1]) + " | " : "";
        return cause + Strip(tail[fatal]);
    }

    private static string Seconds(TimeSpan span) => ((int)span.TotalSeconds).ToString(CultureInfo.InvariantCulture);
}
