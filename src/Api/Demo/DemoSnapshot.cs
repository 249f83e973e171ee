using System.Globalization;
using HA.Agent.Local;
using HA.Core.Replication;

namespace HA.Api.Demo;

/// <summary>One instance of the demo as seen at one moment.</summary>
public sealed record DemoNodeStatus(
    string Name,
    string Role,
    string State,
    bool Healthy,
    int? Pid,
    int Port,
    int? Timeline,
    string? Lsn,
    long? LagBytes,
    string Connection);

/// <summary>Every instance of a demo cluster and its supervisor, probed once.</summary>
public sealed record DemoSnapshot(string Cluster, string Directory, int? SupervisorPid, IReadOnlyList<DemoNodeStatus> Nodes)
{
    public bool Healthy => Nodes.All(n => n.Healthy);

    public static async Task<DemoSnapshot> TakeAsync(LocalCluster cluster, DemoDirectory directory, CancellationToken cancellationToken)
    {
        var states = await cluster.ProbeAllAsync(cancellationToken);
        var primaryPosition = states.Values.FirstOrDefault(s => s is { IsPrimary: true } && s.CurrentLsn is not null)?.CurrentLsn;
        var rows = cluster.Instances.Select(instance =>
        {
            var name = instance.Settings.Name;
            var pid = instance.ServerProcessId();
            var state = states[name];
            var isWitness = instance == cluster.Witness;
            var database = isWitness ? LocalCluster.WitnessDatabase : "postgres";
            var (role, health, healthy) = (isWitness, pid, state) switch
            {
                (_, null, _) => (isWitness ? "witness" : "unknown", "stopped", false),
                (_, _, null) => (isWitness ? "witness" : "unknown", "not answering", false),
                (true, _, _) => ("witness", "running", true),
                (false, _, { IsPrimary: true }) => ("primary", "running", true),
                (false, _, { IsStreamingReplica: true }) => ("replica", "streaming", true),
                (false, _, { } s) => ("replica", s.WalReceiverStatus ?? "not streaming", false),
            };
            long? lag = state is { InRecovery: true } && primaryPosition is { } at ? state.ReplayLagBytes(at) : null;
            return new DemoNodeStatus(name, role, health, healthy, pid, instance.Settings.Port, state?.Timeline,
                state?.Position.ToString(), lag, cluster.ClientUri(instance, database));
        }).ToList();
        return new DemoSnapshot(cluster.Topology.ClusterName, cluster.Directory, directory.SupervisorPid(), rows);
    }

    public string Table() => HA.Api.Cli.TextTable.Render(
        ["NODE", "ROLE", "STATE", "PID", "PORT", "TL", "LSN", "LAG", "CONNECTION"],
        Nodes.Select(n => (IReadOnlyList<string>)
        [
            n.Name, n.Role, n.State,
            n.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-",
            n.Port.ToString(CultureInfo.InvariantCulture),
            n.Timeline?.ToString(CultureInfo.InvariantCulture) ?? "-",
            n.Lsn ?? "-",
            n.LagBytes is { } lag ? $"{lag} B" : "-",
            n.Connection,
        ]));
}
