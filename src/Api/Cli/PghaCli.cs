using System.Reflection;
using System.Runtime.InteropServices;
using HA.Api.Demo;
using HA.Core.Errors;

namespace HA.Api.Cli;

/// <summary>
/// The <c>pgha</c> command: dispatches to a command, turns SIGINT/SIGTERM into a cancellation, and
/// prints an operator error as one line on stderr with a non-zero exit code.
/// </summary>
public static class PghaCli
{
    public const string Help = """
        pgha — PostgreSQL high availability: failover, switchover, routing and an explained history

        usage: pgha <command> [options]

        commands:
          demo       run a complete local cluster on loopback (pgha demo --help)
          run        run the agent of one node (pgha run --config FILE)
          proxy      run the proxy alone, on an application host (pgha proxy --config FILE)
          config     check a pgha.yaml (pgha config check --config FILE)
          restart    restart nodes with parameters pending a restart, one at a time (pgha restart --rolling --config FILE)
          version    print the version

        commands through a node's HTTP API (--url URL or $PGHA_URL, --token or $PGHA_TOKEN, or --config FILE
        for a member's api.listen and api.token; --json):
          pause      freeze automatic failover (pgha pause [--reason TEXT])
          resume     let automatic failover act again
          detach     take a node out of routing and candidacy (pgha detach NODE)
          attach     bring a detached node back (pgha attach NODE)
          reinitialize  take a new base backup of a replica from the primary (pgha reinitialize NODE)
          switchover move the primary to a replica (pgha switchover --to NODE [--at TIME]; --cancel)
          failover   promote a named node when the primary is gone (pgha failover --to NODE [--force])
          config     cluster-wide PostgreSQL parameters (pgha config set NAME=VALUE ..., pgha config reset NAME, pgha config show)
          reload     make a node read its pgha.yaml again (pgha reload)
          member     list, remove or add members (pgha member list, pgha member remove NODE, pgha member add NODE_FILE)
          status     the cluster at a glance (pgha status)
          nodes      every node's role, state and lag (pgha nodes list, pgha nodes info NODE);
                     pgha nodes detach|attach|promote|reinitialize NODE
          members    the gossip view of the node answering
          lease      lease holders, fencing tokens and expiry
          directives directives issued and their outcome (pgha directives --node n2)
          history    recorded events (pgha history --since 1h --type primary_changed), or the cluster at a time (--at TIME)
          explain    the story of one failover (pgha explain FAILOVER_ID)
          watch      print events as they are recorded, until Ctrl-C

        examples:
          pgha demo
          pgha demo status
          pgha demo add-replica
          pgha demo remove-node n4
          pgha demo destroy
          pgha switchover --to n2                        # in the demo's directory: its nodes and token are found
          pgha config set work_mem=64MB --config pgha.yaml
          pgha restart --rolling --config pgha.yaml
          pgha run --config n4.yaml                      # a new replica joins: base backup from the primary
          pgha member remove n4 --config n1.yaml         # it leaves: its agent stops its PostgreSQL and exits
          pgha member add n4.yaml --config n1.yaml       # brings it back (then pgha run --config n4.yaml)
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        using var stopping = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            return await DispatchAsync(args, output, stopping.Token);
        }
        catch (OperatorError e)
        {
            await error.WriteLineAsync($"pgha: {e.Message}");
            return e.ExitCode;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await error.WriteLineAsync("pgha: interrupted");
            return 130;
        }
        catch (TimeoutException e)
        {
            await error.WriteLineAsync($"pgha: {e.Message}");
            return 1;
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }
    }

    /// <summary>pgha nodes promote NODE [options]: a manual failover to NODE.</summary>
    private static Task<int> PromoteAsync(List<string> arguments, TextWriter output, CancellationToken stopping)
    {
        if (arguments.Count == 0 || arguments[0].StartsWith('-'))
        {
            if (arguments.Contains("--help") || arguments.Contains("-h")) { output.WriteLine(HA.Api.Operations.FailoverCommand.Help); return Task.FromResult(0); }
            throw new UsageError("pgha nodes promote needs the node: pgha nodes promote NODE");
        }
        return HA.Api.Operations.FailoverCommand.RunAsync("pgha nodes promote", arguments[0], arguments.Skip(1).ToList(), output, stopping);
    }

    private static Task<int> DispatchAsync(string[] args, TextWriter output, CancellationToken stopping)
    {
        var command = args.Length == 0 ? "--help" : args[0];
        var rest = args.Skip(1).ToList();
        switch (command)
        {
            case "--help" or "-h" or "help":
                output.WriteLine(Help);
                return Task.FromResult(0);
            case "version" or "--version":
                output.WriteLine($"pgha {typeof(PghaCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "dev"}");
                return Task.FromResult(0);
            case "demo":
                return DemoCommand.RunAsync(rest, output, stopping);
            case "run":
                return HA.Api.Run.RunCommand.RunAsync(rest, output, stopping);
            case "proxy":
                return HA.Api.Proxying.ProxyCommand.RunAsync(rest, output, stopping);
            case "failover":
                return HA.Api.Operations.FailoverCommand.RunAsync(rest, output, stopping);
            case "switchover":
                return HA.Api.Operations.SwitchoverCommand.RunAsync(rest, output, stopping);
            case "restart":
                return HA.Api.Operations.RestartCommand.RunAsync(rest, output, stopping);
            case "member":
                return HA.Api.Operations.MemberCommand.RunAsync(rest, output, stopping);
            case "pause" or "resume" or "detach" or "attach" or "reinitialize":
                return HA.Api.Operations.ClusterRequestCommand.RunAsync(command, rest, output, stopping);
            case "nodes" when rest.Count > 0 && rest[0] is "detach" or "attach" or "reinitialize":
                return HA.Api.Operations.ClusterRequestCommand.RunAsync(rest[0], rest.Skip(1).ToList(), output, stopping);
            case "nodes" when rest.Count > 0 && rest[0] == "promote":
                return PromoteAsync(rest.Skip(1).ToList(), output, stopping);
            case "reload":
                return HA.Api.Operations.ReloadCommand.RunAsync(rest, output, stopping);
            case "config":
                if (rest is ["--help"] or ["-h"] or []) { output.WriteLine(HA.Api.Config.ConfigCommand.Help); return Task.FromResult(rest.Count == 0 ? 2 : 0); }
                return HA.Api.Config.ConfigCommand.RunAsync(rest, output, stopping);
            case var read when ApiCommands.Names.Contains(read):
                return ApiCommands.RunAsync(read, rest, output, stopping);
            default:
                throw new UsageError($"unknown command '{command}'; run 'pgha --help' to see the commands");
        }
    }
}
