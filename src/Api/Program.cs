using HA.Api.Cli;

return await PghaCli.RunAsync(args, Console.Out, Console.Error);
