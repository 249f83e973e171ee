using HA.Api.Cli;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Projections;

namespace HA.Api.Operations;

/// <summary>
/// <c>pgha pause</c> and <c>pgha resume</c>: freeze and thaw automatic failover (DESIGN §3.6);
/// <c>pgha detach</c> and <c>pgha attach</c>: take a node out of routing and candidacy for maintenance
/// and back. Each is an event in the cluster's log, so it survives agent restarts and coordinator
/// changes; while paused, a lost primary is reported and nothing is promoted. Until the REST API lands (issue 9) the
/// command reaches the witness store named by a node's pgha.yaml.
/// </summary>
public static class ClusterRequestCommand
{
    public const string Help = """
        pgha pause — freeze automatic failover (a lost primary is reported, nothing is promoted)
        pgha resume — let automatic failover act again
        pgha detach — take a node out of routing and candidacy for maintenance; its agent leaves its PostgreSQL alone
        pgha attach — bring a detached node back
        pgha reinitialize — throw a replica's data directory away and take a new base backup from the primary

        usage: pgha pause --config FILE [--reason TEXT]
               pgha resume --config FILE [--reason TEXT]
               pgha detach --config FILE --node NODE [--reason TEXT]
               pgha attach --config FILE --node NODE
               pgha reinitialize --config FILE --node NODE [--reason TEXT]

        FILE is any member's pgha.yaml (its witness and cluster are used). Each is recorded as an event
        (FailoverPaused, FailoverResumed, NodeDetached, NodeAttached, ReinitializeRequested, by the OS
        user running the command); it survives agent restarts and coordinator changes. The coordinator
        carries out a reinitialize with a REINITIALIZE directive (pg_basebackup from the primary) and
        records NodeRejoined when it is done. Exit 0 when recorded, 1 with one line when refused
        (already paused, not paused, unknown node, the primary, already detached, not detached,
        detached or already being reinitialized, unknown cluster, witness unreachable).

        examples:
          pgha pause --config /etc/pgha/pgha.yaml --reason "kernel upgrade"
          pgha detach --config /etc/pgha/pgha.yaml --node n3 --reason "disk swap"
          pgha reinitialize --config /etc/pgha/pgha.yaml --node n2 --reason "corrupt index on n2"
        """;

    public static async Task<int> RunAsync(string verb, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var onNode = verb is "detach" or "attach" or "reinitialize";
        var cli = CommandLine.Parse($"pgha {verb}", arguments, onNode ? ["--config", "--reason", "--node"] : ["--config", "--reason"], []);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var path = cli.Value("--config") ?? throw new UsageError($"pgha {verb} needs --config FILE (a member's pgha.yaml)");
        var node = onNode ? cli.Value("--node") ?? throw new UsageError($"pgha {verb} needs --node NODE") : null;
        var config = PghaConfig.Load(path);
        var by = Initiator.User(Environment.UserName);
        var reason = cli.Value("--reason") ?? $"{verb} by an operator";
        var correlation = $"{verb}-{Guid.NewGuid():n}"[..18];
        ClusterEvent change = verb switch
        {
            "pause" => new FailoverPaused(reason) { By = by, CorrelationId = correlation },
            "resume" => new FailoverResumed(reason) { By = by, CorrelationId = correlation },
            "detach" => new NodeDetached(node!, reason) { By = by, CorrelationId = correlation },
            "reinitialize" => new ReinitializeRequested(node!, reason) { By = by, CorrelationId = correlation },
            _ => new NodeAttached(node!) { By = by, CorrelationId = correlation },
        };
        await using var witness = await WitnessStore.OpenAsync(config.Witness, cancellationToken);
        var state = await witness.AppendCheckedAsync(config.Cluster, change, cancellationToken);
        output.WriteLine(verb switch
        {
            "pause" => $"cluster {config.Cluster}: automatic failover paused at version {state.Version} ({reason})",
            "resume" => $"cluster {config.Cluster}: automatic failover resumed at version {state.Version} ({reason})",
            "detach" => $"cluster {config.Cluster}: {node} detached at version {state.Version} ({reason}): out of routing and candidacy; its agent leaves PostgreSQL alone",
            "reinitialize" => $"cluster {config.Cluster}: reinitialize of {node} requested at version {state.Version} ({reason}); the coordinator takes a new base backup from {state.Primary} (watch for node_rejoined)",
            _ => $"cluster {config.Cluster}: {node} attached at version {state.Version}",
        });
        return 0;
    }
}
