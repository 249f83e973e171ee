using System.Diagnostics;
using System.Globalization;
using HA.Agent.Postgres;
using HA.Bench;
using HA.Core.Events;
using HA.Core.State;
using HA.Testing;
using HA.Testing.Checking;

// Failover recovery time: from a kill to the first commit acknowledged by the new primary, seen by
// clients writing to every node every 10 ms. Scenarios, in one run, each over --kills kills:
//   crash   kill -9 of the primary's postmaster, its agent alive (primary_restart_timeout 0)
//   node    kill -9 of the primary's agent and postmaster together (lease ttl --ttl seconds)
//   manual  the reference: kill -9 of the primary's postmaster and an immediate pg_ctl promote of a
//           replica by hand, with no detection at all (the floor any HA tool adds its detection to)
//   switchover  `pgha switchover` back and forth (--switchovers, default 10): the write pause, from the
//           old primary's last acknowledged commit to the new primary's first
// Between kills the cluster settles: the old primary rejoins as a streaming replica.
// usage: dotnet run -c Release --project bench/Failover -- [--kills 20] [--ttl 6] [--switchovers 10] [--scenarios crash,node,manual,switchover]

var kills = BenchStats.Option(args, "--kills", 20);
var ttl = TimeSpan.FromSeconds(BenchStats.Option(args, "--ttl", 6));
var scenarios = (Array.IndexOf(args, "--scenarios") is var i and >= 0 ? args[i + 1] : "crash,node,manual,switchover").Split(',');
var switchovers = BenchStats.Option(args, "--switchovers", 10);
var results = new List<(string Scenario, double[] Seconds, string Note)>();

foreach (var scenario in scenarios)
{
    var seconds = scenario switch
    {
        "crash" => await WithAgentsAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, LeaseTtl = ttl, FenceMargin = TimeSpan.FromSeconds(2) }, killAgent: false),
        "node" => await WithAgentsAsync(s => s with { PrimaryRestartTimeout = TimeSpan.Zero, LeaseTtl = ttl, FenceMargin = TimeSpan.FromSeconds(2) }, killAgent: true),
        "manual" => await ByHandAsync(),
        "switchover" => await SwitchoversAsync(),
        _ => throw new ArgumentException($"unknown scenario {scenario}"),
    };
    results.Add((scenario, seconds, scenario == "node" ? $"lease ttl {ttl.TotalSeconds:0} s" : ""));
}

Console.WriteLine();
Console.WriteLine($"| scenario | runs | p50 | p90 | max | |");
Console.WriteLine($"| --- | --- | --- | --- | --- | --- |");
var manual = results.FirstOrDefault(r => r.Scenario == "manual").Seconds;
foreach (var (scenario, values, note) in results)
{
    var p50 = BenchStats.Percentile(values, 0.5);
    var ratio = manual is { Length: > 0 } && scenario != "manual" ? $"{p50 / BenchStats.Percentile(manual, 0.5):0.0}× the promote by hand" : "";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {scenario} | {values.Length} | {p50:0.00} s | {BenchStats.Percentile(values, 0.9):0.00} s | {values.Max():0.00} s | {string.Join("; ", new[] { note, ratio }.Where(s => s.Length > 0))} |"));
}

async Task<double[]> WithAgentsAsync(Func<HA.Agent.Local.LocalAgentSettings, HA.Agent.Local.LocalAgentSettings> configure, bool killAgent)
{
    var scenario = killAgent ? "node" : "crash";
    await using var agents = await AgentCluster.StartAsync(configure);
    await agents.WaitForStateAsync(s => s.Primary is not null && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy), TimeSpan.FromSeconds(90), "bootstrapped");
    await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, TimeSpan.FromMilliseconds(10), default);
    var recoveries = new List<double>();
    for (var kill = 1; kill <= kills; kill++)
    {
        var before = await Settled(agents);
        var old = before.Primary!;
        await writes.WaitForAcknowledgedOnAsync(old, 10, TimeSpan.FromSeconds(60));
        var killedAt = writes.Now();
        agents.KillPostgres(old);
        if (killAgent) agents.KillAgent(old);
        var after = await agents.WaitForStateAsync(s => s.Primary != old && s.Primary is not null && s.Failover is null, TimeSpan.FromSeconds(120), "failed over");
        await writes.WaitForAcknowledgedOnAsync(after.Primary!, 1, TimeSpan.FromSeconds(60));
        var first = writes.Attempts.Where(a => a.Node == after.Primary && a.AckedAt > killedAt).Min(a => a.AckedAt!.Value);
        recoveries.Add((first - killedAt).TotalSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{scenario} {kill}: {old} → {after.Primary} in {(first - killedAt).TotalSeconds:0.000} s"));
        if (killAgent) agents.StartAgent(old);
    }
    var check = await agents.CheckAsync(writes, allowedLoss: 100_000);
    Console.WriteLine($"{scenario}: history check: {(check.IsClean ? "clean" : "VIOLATIONS")}\n{check.Summary}");
    foreach (var violation in check.Violations) Console.WriteLine($"  {violation.Kind}: {violation.Evidence}");
    var history = await agents.HistoryAsync();
    foreach (var e in history.Where(e => !check.IsClean || e.Event is FailoverFailed))
        Console.WriteLine($"  {e.Version} {e.At:HH:mm:ss.fff} {HA.Core.History.EventLine.Describe(e)}");
    // A failed attempt: what the candidate's server said around it.
    foreach (var failed in history.Select(e => e.Event).OfType<FailoverFailed>())
    {
        var candidate = history.Select(e => e.Event).OfType<FailoverStarted>().FirstOrDefault(s => s.FailoverId == failed.FailoverId)?.Candidate;
        if (candidate is null) continue;
        var log = agents.Cluster.Cluster.Node(candidate).Settings.LogFile;
        Console.WriteLine($"  server log of {candidate} ({log}), promotion and crash lines:");
        foreach (var line in File.ReadLines(log).Where(l => l.Contains("promot", StringComparison.Ordinal) || l.Contains("terminat", StringComparison.Ordinal)
                     || l.Contains("was terminated", StringComparison.Ordinal) || l.Contains("PANIC", StringComparison.Ordinal) || l.Contains("shutdown", StringComparison.Ordinal)))
            Console.WriteLine("    " + line);
    }
    return [.. recoveries];
}

static async Task<ClusterState> Settled(AgentCluster agents) =>
    await agents.WaitForStateAsync(s => s.Primary is not null && s.Failover is null && s.PendingDirectives.Count == 0
        && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy && (n.Role == NodeRole.Primary || n.Role == NodeRole.Replica)),
        TimeSpan.FromSeconds(120), "every node healthy again");

async Task<double[]> SwitchoversAsync()
{
    await using var agents = await AgentCluster.StartAsync();
    await agents.WaitForStateAsync(s => s.Primary is not null && s.Nodes.Values.All(n => n.Health == NodeHealth.Healthy), TimeSpan.FromSeconds(90), "bootstrapped");
    await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, TimeSpan.FromMilliseconds(10), default);
    var pauses = new List<double>();
    for (var round = 1; round <= switchovers; round++)
    {
        var before = await Settled(agents);
        var from = before.Primary!;
        var to = from == "n1" ? "n2" : "n1";
        await writes.WaitForAcknowledgedOnAsync(from, 10, TimeSpan.FromSeconds(60));
        var requestedAt = writes.Now();
        var run = await PghaProcess.RunAsync("switchover", "--config", agents.Configs["n3"], "--to", to);
        if (run.ExitCode != 0) throw new InvalidOperationException($"switchover {round} failed: {run.Error}");
        await writes.WaitForAcknowledgedOnAsync(to, 1, TimeSpan.FromSeconds(60));
        var attempts = writes.Attempts;
        var firstOnNew = attempts.Where(a => a.Node == to && a.AckedAt > requestedAt).Min(a => a.AckedAt!.Value);
        var lastOnOld = attempts.Where(a => a.Node == from && a.AckedAt < firstOnNew).Max(a => a.AckedAt!.Value);
        pauses.Add((firstOnNew - lastOnOld).TotalSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"switchover {round}: {from} → {to}, writes paused {(firstOnNew - lastOnOld).TotalSeconds:0.000} s ({run.Output.Trim().Split('\n')[^1]})"));
    }
    var check = await agents.CheckAsync(writes, allowedLoss: 0);
    Console.WriteLine($"switchover: history check: {(check.IsClean ? "clean" : "VIOLATIONS")}\n{check.Summary}");
    foreach (var violation in check.Violations) Console.WriteLine($"  {violation.Kind}: {violation.Evidence}");
    return [.. pauses];
}

async Task<double[]> ByHandAsync()
{
    // The same cluster shape without agents: kill, promote a replica at once, rewind the old primary.
    await using var agents = await AgentCluster.StartAsync(startAgents: false);
    var local = agents.Cluster.Cluster;
    await using var writes = await WriteRecorder.StartAsync(agents.ConnectionStrings, TimeSpan.FromMilliseconds(10), default);
    var primary = local.Node("n1");
    var recoveries = new List<double>();
    for (var kill = 1; kill <= kills; kill++)
    {
        await writes.WaitForAcknowledgedOnAsync(primary.Settings.Name, 10, TimeSpan.FromSeconds(60));
        var next = local.Nodes.First(n => n != primary);
        var killedAt = writes.Now();
        Process.GetProcessById(primary.ServerProcessId()!.Value).Kill();
        await next.PromoteAsync(default);
        await writes.WaitForAcknowledgedOnAsync(next.Settings.Name, 1, TimeSpan.FromSeconds(60));
        var first = writes.Attempts.Where(a => a.Node == next.Settings.Name && a.AckedAt > killedAt).Min(a => a.AckedAt!.Value);
        recoveries.Add((first - killedAt).TotalSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"manual {kill}: {primary.Settings.Name} → {next.Settings.Name} in {(first - killedAt).TotalSeconds:0.000} s"));
        // Put the cluster back together: the others follow the new primary.
        await Eventually.HoldsAsync(() => Task.FromResult(primary.ServerProcessId()), pid => pid is null, TimeSpan.FromSeconds(30), "the old postmaster to exit");
        var source = new ReplicationSource(local.Topology.ListenAddress, next.Settings.Port);
        await NodeSql.EnsureSlotsAsync(next.Settings, local.Nodes.Where(n => n != next).Select(n => n.Settings.Name), default);
        await primary.RewindAsync(source, default);
        foreach (var other in local.Nodes.Where(n => n != next && n != primary)) await other.RepointAsync(source, default);
        primary = next;
    }
    await writes.StopAsync();
    return [.. recoveries];
}
