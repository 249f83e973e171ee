using HA.Api.Cli;
using HA.Api.Run;
using JasperFx;
using Microsoft.Extensions.Logging;

if (args is ["codegen", ..])
{
    // Wolverine's code generation, run from src/Api (`dotnet run --no-build -- codegen write`): writes
    // Internal/Generated, the handler code pgha run loads statically.
    var host = AgentHost.Build("Host=127.0.0.1;Database=codegen", "codegen", "codegen", "codegen", ["codegen"], new AgentHost.Parts(), LogLevel.Warning, contentRoot: Directory.GetCurrentDirectory());
    return await host.RunJasperFxCommands(args);
}

return await PghaCli.RunAsync(args, Console.Out, Console.Error);
