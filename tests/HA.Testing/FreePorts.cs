using System.Globalization;
using HA.Agent.Local;

namespace HA.Testing;

/// <summary>
/// Loopback ports reserved for one test across every test process on the machine: a lock file per port
/// under /tmp (created exclusively, naming the owner pid) plus a bind check. Released on dispose;
/// a lock whose owner died is taken over.
/// </summary>
public sealed class FreePorts : IDisposable
{
    private static readonly string LockDirectory = Path.Combine(Path.GetTempPath(), "pgha-test-ports");

    /// <summary>
    /// Ports are taken below the kernel's ephemeral range: a port in that range can be handed to any
    /// outgoing connection between the check and the server's bind (with agents and write recorders
    /// churning connections, that happened).
    /// </summary>
    private static readonly (int Low, int High) Range = ChooseRange();

    private static (int Low, int High) ChooseRange()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            var ephemeralLow = int.Parse(parts[0], CultureInfo.InvariantCulture);
            if (ephemeralLow > 12000) return (10000, ephemeralLow - 1);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            // Fall back to the old range below.
        }
        return (20000, 59000);
    }
    private readonly List<string> _locks = [];

    public IReadOnlyList<int> Ports { get; }

    private FreePorts(List<int> ports, List<string> locks)
    {
        Ports = ports;
        _locks = locks;
    }

    public static FreePorts Reserve(int count)
    {
        Directory.CreateDirectory(LockDirectory);
        var ports = new List<int>();
        var locks = new List<string>();
        var random = Random.Shared;
        for (var attempts = 0; ports.Count < count; attempts++)
        {
            if (attempts > 5000) throw new InvalidOperationException($"could not reserve {count} free loopback ports");
            var port = random.Next(Range.Low, Range.High);
            if (ports.Contains(port)) continue;
            var lockFile = Path.Combine(LockDirectory, port.ToString(CultureInfo.InvariantCulture));
            if (!TryLock(lockFile)) continue;
            if (!PortCheck.IsFree("127.0.0.1", port)) { File.Delete(lockFile); continue; }
            ports.Add(port);
            locks.Add(lockFile);
        }
        return new FreePorts(ports, locks);
    }

    /// <summary>A block of consecutive ports (for a base port and the ports after it).</summary>
    public static FreePorts ReserveConsecutive(int count)
    {
        Directory.CreateDirectory(LockDirectory);
        for (var attempts = 0; attempts < 500; attempts++)
        {
            var first = Random.Shared.Next(Range.Low, Range.High - count);
            var locks = new List<string>();
            var ports = new List<int>();
            for (var port = first; port < first + count; port++)
            {
                var lockFile = Path.Combine(LockDirectory, port.ToString(CultureInfo.InvariantCulture));
                if (!TryLock(lockFile)) break;
                locks.Add(lockFile);
                if (!PortCheck.IsFree("127.0.0.1", port)) break;
                ports.Add(port);
            }
            if (ports.Count == count) return new FreePorts(ports, locks);
            foreach (var file in locks) File.Delete(file);
        }
        throw new InvalidOperationException($"could not reserve {count} consecutive free loopback ports");
    }

    private static bool TryLock(string lockFile)
    {
        try
        {
            using var stream = new FileStream(lockFile, FileMode.CreateNew, FileAccess.Write);
            using var writer = new StreamWriter(stream);
            writer.Write(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            return true;
        }
        catch (IOException)
        {
            try
            {
                var owner = int.Parse(File.ReadAllText(lockFile).Trim(), CultureInfo.InvariantCulture);
                if (Directory.Exists($"/proc/{owner}")) return false;
                File.Delete(lockFile);
                return TryLock(lockFile);
            }
            catch (Exception e) when (e is IOException or FormatException)
            {
                return false;
            }
        }
    }

    public void Dispose()
    {
        foreach (var file in _locks) File.Delete(file);
        _locks.Clear();
    }
}
