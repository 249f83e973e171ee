using HA.Api.Cli;
using HA.Api.Run;
using JasperFx;
using Microsoft.Extensions.Logging;

// pgha proxy alone runs socket completions inline on the runtime's event threads (one per core), as an
// event-driven proxy does, instead of handing each one to the thread pool: one thread wake-up less per
// relayed message (docs/benchmarks.md, "Proxy"). Read once, when the first socket is made, so it is set
// before anything else. Not for pgha run: Npgsql, Marten and Wolverine continuations there may block.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (args is ["proxy", ..] && Environment.GetEnvironmentVariable(InlineCompletions) is null)
    Environment.SetEnvironmentVariable(InlineCompletions, "1");

if (args is ["codegen", ..])
{
    // Wolverine's code generation, run from src/Api (`dotnet run --no-build -- codegen write`): writes
    // Internal/Generated, the handler code pgha run loads statically.
    var host = AgentHost.Build("Host=127.0.0.1;Database=codegen", "codegen", "codegen", "codegen", ["codegen"], new AgentHost.Parts(), LogLevel.Warning, contentRoot: Directory.GetCurrentDirectory());
    return await host.RunJasperFxCommands(args);
}

return await PghaCli.RunAsync(args, Console.Out, Console.Error);
