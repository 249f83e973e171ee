using System.Net;
using HA.Api.Config;
using HA.Core.Errors;
using HA.Proxy.Routing;

namespace HA.Api.Tests.Config;

public sealed class reading_the_proxy_section
{
    private const string Node = """
        cluster: shop
        node: { name: n1, host: 10.0.0.1, port: 5432, data_dir: /var/lib/pgha/n1 }
        witness: { connection_string: "Host=10.0.0.9;Database=pgha;Username=pgha" }

        """;

    private static PghaConfig Parse(string proxy, Dictionary<string, string>? environment = null) =>
        PghaConfig.Parse(Node + proxy, "pgha.yaml", environment ?? []);

    [Fact]
    public void without_a_proxy_section_the_proxy_is_not_configured_and_has_the_defaults()
    {
        var proxy = Parse("").Proxy;
        Assert.False(proxy.Configured);
        Assert.Equal((IPAddress.Loopback, 6432, 6433, ReplicaFallback.Primary), (proxy.Options.Listen, proxy.Options.PrimaryPort, proxy.Options.ReplicaPort, proxy.Options.ReplicaFallback));
        Assert.Equal(16L * 1024 * 1024, proxy.MaxReplicaLag);
    }

    [Fact]
    public void a_proxy_section_binds_every_key()
    {
        var config = Parse("proxy: { listen: 0.0.0.0, primary_port: 7432, replica_port: 7433, replica_fallback: refuse, replica_policy: least-connections, max_replica_lag: 1MB }");
        Assert.Equal("least-connections", config.Proxy.Options.ReplicaPolicy);
        Assert.True(config.Proxy.Configured);
        Assert.Equal((IPAddress.Any, 7432, 7433, ReplicaFallback.Refuse), (config.Proxy.Options.Listen, config.Proxy.Options.PrimaryPort, config.Proxy.Options.ReplicaPort, config.Proxy.Options.ReplicaFallback));
        Assert.Equal(1024L * 1024, config.Proxy.MaxReplicaLag);
        // The witness store applies no reader's limit: nodes with different settings store the same routing facts.
        Assert.Equal(Parse("").Witness, config.Witness);
    }

    [Fact]
    public void an_environment_variable_alone_configures_the_proxy()
    {
        var config = Parse("", new Dictionary<string, string> { ["PGHA__PROXY__PRIMARY_PORT"] = "5999" });
        Assert.True(config.Proxy.Configured);
        Assert.Equal(5999, config.Proxy.Options.PrimaryPort);
    }

    [Fact]
    public void a_pem_certificate_and_key_are_loaded_and_a_bad_pair_is_refused_naming_the_keys()
    {
        var directory = Directory.CreateTempSubdirectory("pgha-proxy-tls-");
        try
        {
            using var tls = HA.Testing.TestCertificates.SelfSigned(directory.FullName, "proxy", "CN=proxy");
            var (certPath, keyPath) = (tls.CertificatePath, tls.KeyPath);
            var loaded = Parse($"proxy: {{ tls_certificate: {certPath}, tls_key: {keyPath} }}").Proxy.Options.Certificate;
            Assert.NotNull(loaded);
            Assert.True(loaded.HasPrivateKey);
            Assert.Equal("CN=proxy", loaded.Subject);

            File.WriteAllText(keyPath, "not a key");
            var error = Assert.Throws<OperatorError>(() => Parse($"proxy: {{ tls_certificate: {certPath}, tls_key: {keyPath} }}"));
            Assert.StartsWith($"pgha.yaml: proxy.tls_certificate / proxy.tls_key: cannot load {certPath} with {keyPath}", error.Message);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("proxy: { listen: localhost }", "pgha.yaml: proxy.listen: 'localhost' is not an IP address (use 127.0.0.1, 0.0.0.0 or ::)")]
    [InlineData("proxy: { primary_port: 70000 }", "pgha.yaml: proxy.primary_port: '70000' is not a whole number from 1 to 65535")]
    [InlineData("proxy: { replica_port: x }", "pgha.yaml: proxy.replica_port: 'x' is not a whole number from 1 to 65535")]
    [InlineData("proxy: { primary_port: 6000, replica_port: 6000 }", "pgha.yaml: proxy.replica_port 6000 is the same as proxy.primary_port; give them different ports")]
    [InlineData("proxy: { replica_fallback: random }", "pgha.yaml: proxy.replica_fallback: 'random' is not one of primary, refuse")]
    [InlineData("proxy: { replica_policy: fastest }", "pgha.yaml: proxy.replica_policy: 'fastest' is not one of round-robin, least-connections, random, weighted")]
    [InlineData("proxy: { max_replica_lag: far }", "pgha.yaml: proxy.max_replica_lag: 'far' is not a size (use 1048576, 512kB, 1MB or 1GB)")]
    [InlineData("proxy: { tls_key: /k.pem }", "pgha.yaml: proxy.tls_key is set but proxy.tls_certificate is not; give both PEM files or neither")]
    [InlineData("proxy: { tls_certificate: /nonexistent/c.pem, tls_key: /nonexistent/k.pem }", "pgha.yaml: proxy.tls_certificate: /nonexistent/c.pem does not exist")]
    [InlineData("proxy: { pool_mode: session }", "pgha.yaml: unknown key 'proxy.pool_mode' (line 4); expected proxy.listen, proxy.primary_port, proxy.replica_port, proxy.replica_fallback, proxy.replica_policy, proxy.max_replica_lag, proxy.tls_certificate, proxy.tls_key")]
    public void a_wrong_value_is_refused_naming_the_key(string proxy, string message) =>
        Assert.Equal(message, Assert.Throws<OperatorError>(() => Parse(proxy)).Message);
}
