using HA.Api.Cli;
using HA.Api.Config;
using HA.Api.Run;
using HA.Core.Errors;
using HA.Projections;
using Microsoft.Extensions.Logging;

namespace HA.Api.Proxying;

/// <summary><c>pgha proxy --config pgha.yaml</c>: the proxy alone, following the cluster's routing table in the witness store.</summary>
public static class ProxyCommand
{
    public const string Help = """
        pgha proxy — run the proxy alone (on an application host)

        usage: pgha proxy --config FILE [--log-level LEVEL]

        Reads and checks FILE (the same pgha.yaml as a node's; it uses cluster, witness.* and proxy.*),
        then listens on proxy.primary_port (default 6432: always the current primary) and
        proxy.replica_port (default 6433: replicas that serve reads in turn, else the primary or a
        refusal, as proxy.replica_fallback says). The routing table is read from the witness store,
        woken by its notifications and polled every 2 s. Session mode: one server connection per
        client. SIGTERM or Ctrl-C stops it.

        options:
          --config FILE        the pgha.yaml to read
          --log-level LEVEL    debug, information (default), warning or error
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken stopping)
    {
        var cli = CommandLine.Parse("pgha proxy", arguments, ["--config", "--log-level"], []);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        var path = cli.Value("--config") ?? throw new UsageError("pgha proxy needs --config FILE");
        var level = AgentHost.LogLevelOption(cli.Value("--log-level"));
        var config = PghaConfig.Load(path);
        using var logs = LoggerFactory.Create(logging => AgentHost.ConfigureLogging(logging, level));
        await using var witness = await WitnessStore.OpenAsync(config.Witness, stopping);
        await using var proxy = await RunningProxy.StartAsync(config, witness, logs, stopping);
        output.WriteLine($"pgha proxy: primary port {proxy.Server.PrimaryEndpoint}, replica port {proxy.Server.ReplicaEndpoint}, cluster {config.Cluster}");
        try
        {
            await Task.Delay(Timeout.Infinite, stopping);
        }
        catch (OperationCanceledException) { }
        return 0;
    }
}
