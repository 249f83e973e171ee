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
          pause      freeze automatic failover (pgha pause --config FILE [--reason TEXT])
          resume     let automatic failover act again
          detach     take a node out of routing and candidacy (pgha detach --config FILE --node NODE)
          attach     bring a detached node back
          reinitialize  take a new base backup of a replica from the primary (pgha reinitialize --config FILE --node NODE)
          switchover move the primary to a replica (pgha switchover --config FILE --to NODE [--at TIME])
          failover   promote a named node when the primary is gone (pgha failover --config FILE --to NODE)
          member     list, remove or add members (pgha member remove NODE --config FILE)
          config     check a pgha.yaml (pgha config check --config FILE); cluster-wide PostgreSQL parameters
                     (pgha config set NAME=VALUE ... --config FILE, pgha config reset NAME, pgha config show)
          restart    restart nodes with parameters pending a restart, one at a time (pgha restart --rolling --config FILE)
          version    print the version

        commands through a node's HTTP API (--url URL or $PGHA_URL, --token or $PGHA_TOKEN, --json):
          status     the cluster at a glance (pgha status)
          nodes      every node's role, state and lag (pgha nodes list, pgha nodes info NODE)
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
          pgha config set work_mem=64MB --config pgha.yaml
          pgha restart --rolling --config pgha.yaml
          pgha run --config n4.yaml                      # a new replica joins: base backup from the primary
          pgha member remove n4 --config n1.yaml         # it leaves: its agent stops its PostgreSQL and exits
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
