using HA.Api.Cli;
using HA.Api.Config;
using HA.Api.Http;
using HA.Core.Errors;

namespace HA.Api.Tests.Config;

public sealed class reading_the_api_section
{
    private const string Node = """
        cluster: shop
        node: { name: n1, host: 10.0.0.1, port: 5432, data_dir: /var/lib/pgha/n1 }
        witness: { connection_string: "Host=10.0.0.9;Database=pgha;Username=pgha" }

        """;

    private const string Token = "0123456789abcdef0123";

    private static PghaConfig Parse(string api, Dictionary<string, string>? environment = null) =>
        PghaConfig.Parse(Node + api, "pgha.yaml", environment ?? []);

    [Fact]
    public void without_a_token_changes_are_refused_and_reads_are_open()
    {
        var config = Parse("");
        Assert.Equal((null, false, null), (config.ApiToken, config.ApiReadsNeedToken, config.ApiCertificate));
    }

    [Fact]
    public void the_token_comes_from_the_file_a_token_file_or_the_environment()
    {
        Assert.Equal(Token, Parse($"api: {{ token: {Token}, read_access: token }}").ApiToken);
        Assert.True(Parse($"api: {{ token: {Token}, read_access: token }}").ApiReadsNeedToken);
        Assert.Equal(Token, Parse("", new() { ["PGHA__API__TOKEN"] = Token }).ApiToken);
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Token + "\n");
            Assert.Equal(Token, Parse($"api: {{ token_file: {file} }}").ApiToken);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("api: { token: short }", "pgha.yaml: api.token is 5 characters long; use at least 16 (openssl rand -hex 24 makes one)")]
    [InlineData("api: { token: 0123456789abcdef0123, token_file: /etc/pgha/token }", "pgha.yaml: api.token and api.token_file are both set; give one of them")]
    [InlineData("api: { token_file: /nonexistent/token }", "pgha.yaml: api.token_file: /nonexistent/token does not exist")]
    [InlineData("api: { read_access: closed }", "pgha.yaml: api.read_access: 'closed' is not one of open, token")]
    [InlineData("api: { tls_key: /k.pem }", "pgha.yaml: api.tls_key is set but api.tls_certificate is not; give both PEM files or neither")]
    [InlineData("api: { tls_certificate: /nonexistent/c.pem, tls_key: /nonexistent/k.pem }", "pgha.yaml: api.tls_certificate: /nonexistent/c.pem does not exist")]
    [InlineData("api: { tokens: x }", "pgha.yaml: unknown key 'api.tokens' (line 4); expected api.listen, api.token, api.token_file, api.read_access, api.tls_certificate, api.tls_key")]
    public void a_bad_api_key_is_refused_naming_it(string api, string error) =>
        Assert.Equal(error, Assert.Throws<OperatorError>(() => Parse(api)).Message);

    [Fact]
    public void a_reload_applies_the_token_and_read_access_and_names_what_needs_a_restart()
    {
        var running = Parse($"api: {{ listen: 127.0.0.1:8008, token: {Token} }}\nlease: {{ ttl: 30s }}");
        var read = Parse($"api: {{ listen: 0.0.0.0:8008, token: {Token}xyz, read_access: token }}\nlease: {{ ttl: 20s }}");
        var outcome = ConfigReload.Merge(running, read);
        Assert.Equal(["api.read_access", "api.token"], outcome.Applied);
        Assert.Equal(["api.listen", "lease.ttl"], outcome.NeedRestart);
        Assert.Equal((Token + "xyz", true), (outcome.Next.ApiToken, outcome.Next.ApiReadsNeedToken));
        Assert.Equal((running.ApiListen, running.Lease.Ttl), (outcome.Next.ApiListen, outcome.Next.Lease.Ttl));

        // Read again unchanged: the listen address still waits for a restart, the token is in force.
        var again = ConfigReload.Merge(outcome.Next, read);
        Assert.Empty(again.Applied);
        Assert.Equal(["api.listen", "lease.ttl"], again.NeedRestart);
        Assert.Empty(ConfigReload.Merge(running, running).NeedRestart);
    }

    [Fact]
    public void the_cli_takes_the_token_of_the_configuration_file_unless_one_is_given()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Node + $"api: {{ listen: 127.0.0.1:18008, token: {Token} }}\n");
            using var fromFile = ApiClient.From(CommandLine.Parse("pgha pause", ["--config", file], ApiClient.ValueOptions, []), new Dictionary<string, string>());
            Assert.Equal(new Uri("http://127.0.0.1:18008/"), fromFile.BaseUrl);
            Assert.Equal(Token, fromFile.Token);
            using var given = ApiClient.From(CommandLine.Parse("pgha pause", ["--config", file, "--token", "other"], ApiClient.ValueOptions, []), new Dictionary<string, string>());
            Assert.Equal("other", given.Token);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void the_cli_takes_the_token_of_the_demo_in_its_directory()
    {
        var directory = Directory.CreateTempSubdirectory("pgha-cli-demo-");
        try
        {
            File.WriteAllText(new HA.Api.Demo.DemoDirectory(directory.FullName).StateFile, $$"""
                {"cluster":"demo","listen_address":"127.0.0.1","witness_port":1,"nodes":[{"name":"n1","port":2,"gossip_port":18100}],
                 "superuser_password":"x","replication_password":"y","created_at":"2026-11-25T00:00:00Z","api_token":"{{Token}}"}
                """);
            using var api = ApiClient.From(CommandLine.Parse("pgha pause", [], ApiClient.ValueOptions, []), new Dictionary<string, string>(), demoDirectory: directory.FullName);
            Assert.Equal((new Uri("http://127.0.0.1:18100/"), Token), (api.BaseUrl, api.Token));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
