using HA.Api.Config;
using HA.Core.Errors;

namespace HA.Api.Tests.Config;

/// <summary>api.token / api.token_file and api.read_access: reads are open by default, closed only with a token to check.</summary>
public sealed class reading_the_api_access_keys
{
    private const string Base = """
        cluster: shop
        node: { name: n1, host: 10.0.0.1, port: 5432, data_dir: /var/lib/pgha/n1 }
        witness: { connection_string: "Host=10.0.0.9;Database=pgha;Username=pgha" }
        """;

    private static PghaConfig Parse(string api) => PghaConfig.Parse(Base + "\n" + api, "pgha.yaml", new Dictionary<string, string>());

    [Fact]
    public void reads_are_open_and_there_is_no_token_by_default()
    {
        var config = Parse("");
        Assert.Equal((null, false), (config.ApiToken, config.ApiReadsNeedToken));
    }

    [Fact]
    public void a_token_comes_from_the_file_or_from_a_token_file_and_reads_may_require_it()
    {
        var config = Parse("api: { token: s3cret-s3cret-s3cret, read_access: token }");
        Assert.Equal(("s3cret-s3cret-s3cret", true), (config.ApiToken, config.ApiReadsNeedToken));
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from-file-0123456789\n");
            Assert.Equal("from-file-0123456789", Parse($"api: {{ token_file: {file} }}").ApiToken);
            var both = Assert.Throws<OperatorError>(() => Parse($"api: {{ token: x, token_file: {file} }}"));
            Assert.Equal("pgha.yaml: api.token and api.token_file are both set; give one of them", both.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("api: { read_access: token }", "pgha.yaml: api.read_access is token but no api.token or api.token_file is set; set one, or make reads open")]
    [InlineData("api: { read_access: closed, token: 0123456789abcdef }", "pgha.yaml: api.read_access: 'closed' is not one of open, token")]
    [InlineData("api: { token_file: /nonexistent/pgha-token }", "pgha.yaml: api.token_file: /nonexistent/pgha-token does not exist")]
    public void a_mistake_names_the_key_and_what_to_do(string api, string message)
    {
        Assert.Equal(message, Assert.Throws<OperatorError>(() => Parse(api)).Message);
    }
}
