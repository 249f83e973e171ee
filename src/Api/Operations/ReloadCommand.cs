using HA.Api.Cli;

namespace HA.Api.Operations;

/// <summary><c>pgha reload</c>: asks a node to read its pgha.yaml again (POST /api/v1/control/reload).</summary>
public static class ReloadCommand
{
    public const string Help = """
        pgha reload — make a node read its pgha.yaml again                  POST /api/v1/control/reload

        usage: pgha reload [--url URL] [--token TOKEN] [--config FILE] [--json]

        The node checks the file again. The API's token and read access (api.token, api.token_file,
        api.read_access) take effect at once; any other changed key is named as needing a restart of
        pgha run and keeps its running value. An invalid file changes nothing (the error names the key).
        Each node reads its own file: reload every node you changed. SIGHUP to pgha run does the same.

        examples:
          pgha reload --config /etc/pgha/pgha.yaml
          pgha reload --url http://10.0.0.12:8008 --token "$PGHA_TOKEN"
        """ + "\n" + ApiClient.OptionsHelp;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var cli = CommandLine.Parse("pgha reload", arguments, ApiClient.ValueOptions, ["--json"]);
        if (cli.Has("--help")) { output.WriteLine(Help); return 0; }
        cli.NoPositionals();
        using var api = ApiClient.From(cli);
        return ApiAnswers.Print(output, await api.PostAsync("api/v1/control/reload", null, cancellationToken), cli.Has("--json"));
    }
}
