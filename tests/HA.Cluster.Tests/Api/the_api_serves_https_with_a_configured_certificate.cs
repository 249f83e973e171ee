using System.Net;
using System.Text;
using HA.Cluster.Tests.Agents;
using HA.Core.Events;
using HA.Testing;

namespace HA.Cluster.Tests.Api;

/// <summary>
/// api.tls_certificate / api.tls_key: the node's API answers HTTPS with that certificate — health
/// checks, reads and token-guarded changes alike — and nothing in the clear on that port; the CLI trusts it
/// with --cacert and refuses it, in one line, without.
/// </summary>
public sealed class the_api_serves_https_with_a_configured_certificate
{
    [Fact]
    public async Task health_reads_and_changes_go_over_tls_and_plain_http_gets_no_answer()
    {
        var directory = Directory.CreateTempSubdirectory("pgha-test-api-tls-");
        try
        {
            using var tls = TestCertificates.SelfSigned(directory.FullName, "api", "CN=127.0.0.1");
            var (certificate, certPath, keyPath) = (tls.Certificate, tls.CertificatePath, tls.KeyPath);

            await using var agents = await AgentCluster.StartAsync(nodes: 1, startAgents: false);
            var config = await File.ReadAllTextAsync(agents.Configs["n1"]);
            var token = $"token: \"{agents.ApiToken}\"";
            Assert.Contains(token, config, StringComparison.Ordinal);
            await File.WriteAllTextAsync(agents.Configs["n1"], config.Replace(token, $"{token}, tls_certificate: \"{certPath}\", tls_key: \"{keyPath}\"", StringComparison.Ordinal));
            agents.StartAgent("n1");
            await AgentScenario.BootstrappedAsync(agents);

            var https = agents.ApiUrl("n1").Replace("http://", "https://", StringComparison.Ordinal);
            var presented = new List<string>();
            using var handler = new HttpClientHandler
            {
                // Trust exactly the certificate the test made, and record what the server presented.
                ServerCertificateCustomValidationCallback = (_, served, _, _) =>
                {
                    lock (presented) presented.Add(served?.Thumbprint ?? "none");
                    return served?.Thumbprint == certificate.Thumbprint;
                },
            };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };

            using (var liveness = await http.GetAsync(https + "/liveness"))
                Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
            using (var status = await http.GetAsync(https + "/api/v1/status"))
            {
                Assert.Equal(HttpStatusCode.OK, status.StatusCode);
                Assert.Contains("\"primary\":\"n1\"", await status.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            using (var pause = new HttpRequestMessage(HttpMethod.Post, https + "/api/v1/cluster/pause") { Content = new StringContent("{\"reason\":\"tls test\"}", Encoding.UTF8, "application/json") })
            {
                pause.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", agents.ApiToken);
                using var answer = await http.SendAsync(pause);
                Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync());
            }
            Assert.Contains(await agents.HistoryAsync(), e => e.Event is FailoverPaused { Reason: "tls test" });
            Assert.All(presented, thumbprint => Assert.Equal(certificate.Thumbprint, thumbprint));
            Assert.NotEmpty(presented);

            // The CLI trusts it given --cacert; without it, it says the certificate is not trusted.
            var trusted = await PghaProcess.RunAsync("status", "--url", https, "--cacert", certPath);
            Assert.True(trusted.ExitCode == 0, trusted.Output + trusted.Error);
            Assert.Matches(@"(?m)^primary\s+n1$", trusted.Output);
            var untrusted = await PghaProcess.RunAsync("status", "--url", https);
            Assert.NotEqual(0, untrusted.ExitCode);
            Assert.Equal("", untrusted.Output);
            Assert.Single(untrusted.Error.Trim().Split('\n'));
            Assert.StartsWith($"pgha: the certificate of the pgha API at {https}/ is not trusted (", untrusted.Error, StringComparison.Ordinal);
            Assert.EndsWith("give its CA or self-signed certificate with --cacert FILE or $PGHA_CACERT", untrusted.Error.Trim(), StringComparison.Ordinal);
            var missing = await PghaProcess.RunAsync("status", "--url", https, "--cacert", Path.Combine(directory.FullName, "none.crt"));
            Assert.Equal((2, $"pgha: --cacert {Path.Combine(directory.FullName, "none.crt")}: no such file; give the PEM certificate of the API's CA (or its self-signed certificate)"), (missing.ExitCode, missing.Error.Trim()));
            var notACertificate = await PghaProcess.RunAsync("status", "--url", https, "--cacert", keyPath);
            Assert.Equal((2, $"pgha: --cacert {keyPath}: no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)"), (notACertificate.ExitCode, notACertificate.Error.Trim()));

            // The same port in the clear: Kestrel expects a TLS handshake and gives no HTTP answer.
            using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync(agents.ApiUrl("n1") + "/liveness"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
