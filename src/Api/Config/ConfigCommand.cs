using System.Globalization;
using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Config;

/// <summary><c>pgha config check --config pgha.yaml</c>: reads and checks a configuration, prints what it resolved to.</summary>
public static class ConfigCommand
{
    public const string Help = """
        pgha config check — read and check a pgha.yaml without starting anything
        pgha config set|reset|show — cluster-wide PostgreSQL parameters (pgha config set --help)

        usage: pgha config check --config FILE
               pgha config set NAME=VALUE [NAME=VALUE ...] --config FILE [--reason TEXT]
               pgha config reset NAME [NAME ...] --config FILE [--reason TEXT]
               pgha config show --config FILE [--json]

        Every key is checked (unknown keys, wrong types, durations like 500ms/10s, sizes like 1MB,
        lease timings); PGHA__SECTION__KEY environment variables override the file. Exit 0 when valid,
        1 with one line naming the key otherwise.

        example:
          PGHA__LEASE__TTL=20s pgha config check --config /etc/pgha/pgha.yaml
        """;

    public static Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken = default)
    {
        if (arguments.Count > 0 && arguments[0] is "set" or "reset" or "show")
            return HA.Api.Operations.ParametersCommand.RunAsync(arguments[0], arguments.Skip(1).ToList(), output, cancellationToken);
        if (arguments.Count == 0 || arguments[0] != "check")
            throw new UsageError($"unknown config command '{(arguments.Count == 0 ? "" : arguments[0])}'; expected check, set, reset or show (see 'pgha config --help')");
        var cli = CommandLine.Parse("pgha config check", arguments.Skip(1).ToList(), ["--config"], []);
        if (cli.Has("--help")) { output.WriteLine(Help); return Task.FromResult(0); }
        cli.NoPositionals();
        var path = cli.Value("--config") ?? throw new UsageError("pgha config check needs --config FILE");
        var config = PghaConfig.Load(path).RequireRunnable(Path.GetFileName(path));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{path}: valid. cluster {config.Cluster}, node {config.Node.Name} at {config.Node.Host}:{config.Node.Port} ({config.DataDirectory}), {config.Members.Count} member(s); lease {config.Lease.Backend} ttl {config.Lease.Ttl.TotalSeconds}s fence_margin {config.Lease.FenceMargin.TotalSeconds}s failsafe {(config.Lease.Failsafe ? "on" : "off")}; failure_timeout {config.Detection.FailureTimeout.TotalSeconds}s, primary_restart_timeout {config.Detection.PrimaryRestartTimeout.TotalSeconds}s, maximum_lag_on_failover {config.Failover.MaximumLagOnFailover} bytes"));
        return Task.FromResult(0);
    }
}
