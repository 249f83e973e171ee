using System.Globalization;

namespace HA.Agent.Postgres;

/// <summary>Finds PostgreSQL processes on this machine through /proc.</summary>
public static class PostgresProcesses
{
    /// <summary>
    /// Postmasters whose data directory lies under <paramref name="directory"/>, with all their
    /// children (checkpointer, walsenders, backends): every process a cluster there still has.
    /// </summary>
    public static IReadOnlyList<int> Under(string directory)
    {
        var prefix = Path.GetFullPath(directory).TrimEnd('/') + "/";
        var parents = new Dictionary<int, int>();
        var postmasters = new HashSet<int>();
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(entry, "comm")).Trim() is not ("postgres" or "postmaster")) continue;
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                // Fields after the parenthesised command name: state, ppid, ...
                var afterName = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(afterName[1], CultureInfo.InvariantCulture);
                var arguments = File.ReadAllText(Path.Combine(entry, "cmdline")).Split('\0');
                var dataIndex = Array.IndexOf(arguments, "-D");
                if (dataIndex >= 0 && dataIndex + 1 < arguments.Length &&
                    (Path.GetFullPath(arguments[dataIndex + 1]).TrimEnd('/') + "/").StartsWith(prefix, StringComparison.Ordinal))
                    postmasters.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return parents.Keys.Where(pid => postmasters.Contains(pid) || postmasters.Contains(parents[pid])).Order().ToList();
    }
}
