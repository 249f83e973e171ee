using System.Globalization;

namespace HA.Agent.Postgres;

/// <summary>Where the PostgreSQL server programs live, and their major version.</summary>
public sealed record PostgresBinaries(string BinDirectory, int MajorVersion)
{
    /// <summary>The programs pgha drives; a directory missing any of them is not a server install.</summary>
    public static readonly string[] RequiredPrograms = ["postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_rewind", "pg_controldata"];

    public const string DefaultSearchRoot = "/usr/lib/postgresql";

    public string Path(string program) => System.IO.Path.Combine(BinDirectory, program);

    /// <summary>
    /// Finds the server programs: the configured directory first (an error if it is not a server
    /// install), then <c>pg_config --bindir</c> from PATH, then the newest <c>/usr/lib/postgresql/*/bin</c>.
    /// </summary>
    public static async Task<PostgresBinaries> LocateAsync(
        string? configuredBinDirectory,
        CancellationToken cancellationToken,
        string? pathVariable = null,
        string searchRoot = DefaultSearchRoot)
    {
        if (!string.IsNullOrWhiteSpace(configuredBinDirectory))
        {
            var missing = MissingPrograms(configuredBinDirectory);
            if (missing.Count > 0)
                throw new PostgresNotFoundError(
                    $"postgresql.bin_dir={configuredBinDirectory} is not a PostgreSQL server install (missing {string.Join(", ", missing)}); point it at the directory holding postgres and pg_ctl, or leave it unset to search");
            return new PostgresBinaries(configuredBinDirectory, await VersionOfAsync(configuredBinDirectory, cancellationToken).ConfigureAwait(false));
        }

        var tried = new List<string>();
        var pgConfig = FindOnPath("pg_config", pathVariable ?? Environment.GetEnvironmentVariable("PATH") ?? "");
        if (pgConfig is not null)
        {
            var bindir = await OsCommand.RunAsync(pgConfig, ["--bindir"], cancellationToken).ConfigureAwait(false);
            var candidate = bindir.StandardOutput.Trim();
            if (bindir.Succeeded && candidate.Length > 0)
            {
                if (MissingPrograms(candidate).Count == 0)
                    return new PostgresBinaries(candidate, await VersionOfAsync(candidate, cancellationToken).ConfigureAwait(false));
                tried.Add($"{candidate} (from {pgConfig})");
            }
        }

        if (Directory.Exists(searchRoot))
        {
            var versions = Directory.GetDirectories(searchRoot)
                .Select(d => (Dir: System.IO.Path.Combine(d, "bin"), Ok: int.TryParse(System.IO.Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v), Version: v))
                .Where(x => x.Ok)
                .OrderByDescending(x => x.Version);
            foreach (var (dir, _, version) in versions)
            {
                if (MissingPrograms(dir).Count == 0) return new PostgresBinaries(dir, version);
                tried.Add(dir);
            }
        }
        tried.Add($"{searchRoot}/*/bin");

        throw new PostgresNotFoundError(
            $"no PostgreSQL server install found (looked in {string.Join(", ", tried.Distinct())}); install it with 'apt-get install -y postgresql' or set postgresql.bin_dir");
    }

    private static List<string> MissingPrograms(string directory) =>
        RequiredPrograms.Where(p => !File.Exists(System.IO.Path.Combine(directory, p))).ToList();

    private static string? FindOnPath(string program, string pathVariable) =>
        pathVariable.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private static async Task<int> VersionOfAsync(string binDirectory, CancellationToken cancellationToken)
    {
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        var result = await OsCommand.RunAsync(System.IO.Path.Combine(binDirectory, "postgres"), ["--version"], cancellationToken).ConfigureAwait(false);
        var words = result.StandardOutput.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var version = words.Length >= 3 ? words[2] : "";
        var major = version.Split('.')[0];
        if (!result.Succeeded || !int.TryParse(major, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            throw new PostgresNotFoundError($"{binDirectory}/postgres --version did not report a version ({result.LastErrorLine})");
        return number;
    }
}
