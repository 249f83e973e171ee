using System.Runtime.InteropServices;

namespace HA.Agent.Postgres;

/// <summary>
/// The OS account PostgreSQL runs as. PostgreSQL refuses to run as root, so when pgha runs as root it
/// runs every PostgreSQL program as <see cref="Name"/> (normally <c>postgres</c>) and hands it the
/// directories it needs; otherwise everything runs as the current user.
/// </summary>
public sealed partial class PostgresOsUser
{
    public const string DefaultName = "postgres";

    private PostgresOsUser(string? runAs, string name, int uid, int gid)
    {
        RunAs = runAs;
        Name = name;
        Uid = uid;
        Gid = gid;
    }

    /// <summary>The user passed to <c>runuser</c>, or null when programs run as the current user.</summary>
    public string? RunAs { get; }

    /// <summary>The account that owns the data directories.</summary>
    public string Name { get; }

    public int Uid { get; }

    /// <summary>The account's primary group, given to the files it owns.</summary>
    public int Gid { get; }

    /// <summary>Resolves the account: <paramref name="configuredName"/> when running as root, else the current user.</summary>
    public static async Task<PostgresOsUser> ResolveAsync(string? configuredName, CancellationToken cancellationToken)
    {
        if (!Environment.IsPrivilegedProcess)
            return new PostgresOsUser(null, Environment.UserName, await IdAsync("-u", null, cancellationToken).ConfigureAwait(false), await IdAsync("-g", null, cancellationToken).ConfigureAwait(false));
        var name = string.IsNullOrWhiteSpace(configuredName) ? DefaultName : configuredName;
        var uid = await IdAsync("-u", name, cancellationToken).ConfigureAwait(false);
        if (uid < 0)
            throw new PostgresNotFoundError(
                $"OS user '{name}' does not exist; PostgreSQL cannot run as root, so pgha runs it as '{name}': install Debian's postgresql package (it creates the user) or set postgresql.os_user");
        return new PostgresOsUser(name, name, uid, await IdAsync("-g", name, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<int> IdAsync(string which, string? user, CancellationToken cancellationToken)
    {
        var result = await OsCommand.RunAsync("id", user is null ? [which] : [which, user], cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? int.Parse(result.StandardOutput.Trim(), System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    /// <summary>Creates <paramref name="directory"/> (and parents) and gives it to this account with mode 0700.</summary>
    public async Task CreateOwnedDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (RunAs is not null) await ChownAsync(directory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a file readable only by this account (passwords, pgpass).</summary>
    public async Task WritePrivateFileAsync(string path, string content, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(path, content, cancellationToken).ConfigureAwait(false);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (RunAs is not null) await ChownAsync(path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gives one file or directory to this account (a no-op when not running as root).</summary>
    public Task ChownAsync(string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (RunAs is not null && Chown(path, Uid, Gid) != 0)
            throw new DataDirectoryError($"cannot give {path} to OS user '{Name}': {Marshal.GetLastPInvokeErrorMessage()}");
        return Task.CompletedTask;
    }

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, int owner, int group);

    /// <summary>The numeric owner of a path and its name (or the number when it has no name).</summary>
    public static async Task<(int Uid, string Name)> OwnerOfAsync(string path, CancellationToken cancellationToken)
    {
        var stat = await OsCommand.RunAsync("stat", ["-c", "%u %U", path], cancellationToken).ConfigureAwait(false);
        if (!stat.Succeeded) throw new DataDirectoryError($"cannot read the owner of {path}: {stat.LastErrorLine}");
        var parts = stat.StandardOutput.Trim().Split(' ', 2);
        return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts.Length > 1 ? parts[1] : parts[0]);
    }

    /// <summary>
    /// Fails with a clear message when this account cannot enter <paramref name="directory"/>
    /// (for example a parent like /root is closed to other users).
    /// </summary>
    public async Task EnsureCanReachAsync(string directory, CancellationToken cancellationToken)
    {
        if (RunAs is null) return;
        var probe = await OsCommand.RunAsync("test", ["-x", directory], cancellationToken, runAsUser: RunAs).ConfigureAwait(false);
        if (!probe.Succeeded)
            throw new DataDirectoryError(
                $"OS user '{Name}' cannot enter {directory} (a parent directory is closed to it); choose a directory it can reach, for example under /tmp or /var/lib");
    }
}
