using HA.Agent.Postgres;
using HA.Core.State;
using HA.Proxy.Routing;
using HA.Testing;
using Npgsql;

namespace HA.Proxy.Tests;

[CollectionDefinition(Name)]
public sealed class ProxyCollection : ICollectionFixture<ProxyFixture>
{
    public const string Name = "proxy on a real PostgreSQL";
}

/// <summary>
/// A real PostgreSQL 15 (the test witness server), a login role with a password (SCRAM over TCP, as
/// clients of a real cluster use), and a proxy whose routing table names that server as the primary.
/// </summary>
public sealed class ProxyFixture : IAsyncLifetime
{
    public const string User = "proxy_client";
    public const string Password = "proxy-client-password";

    public TestWitness Postgres { get; } = new();
    public PublishedRouting Routing { get; } = new();
    public ProxyServer Proxy { get; private set; } = null!;

    /// <summary>A second proxy with a self-signed certificate: it negotiates TLS with clients that ask.</summary>
    public ProxyServer TlsProxy { get; private set; } = null!;
    public RouteEndpoint Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        await using (var connection = new NpgsqlConnection(NodeProbe.ConnectionString(Postgres.Instance.Settings)))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE ROLE {User} LOGIN SUPERUSER PASSWORD '{Password}'", connection);
            await create.ExecuteNonQueryAsync();
        }
        Server = new RouteEndpoint("pg1", "127.0.0.1", Postgres.Instance.Settings.Port);
        PublishPrimary(Server);
        Proxy = ProxyServer.Start(new ProxyOptions { PrimaryPort = 0, ReplicaPort = 0, StartupTimeout = TimeSpan.FromSeconds(2) }, Routing);
        TlsProxy = ProxyServer.Start(new ProxyOptions { PrimaryPort = 0, ReplicaPort = 0, Certificate = SelfSigned() }, Routing);
    }

    /// <summary>Publishes a table whose primary is <paramref name="primary"/> (or none) with no replicas.</summary>
    public void PublishPrimary(RouteEndpoint? primary) =>
        Routing.Publish(new RoutingTable("test", "test", 1, (Routing.Current?.Version ?? 0) + 1, primary, []));

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 SelfSigned()
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12 so the private key is usable by SslStream on Linux.
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
    }

    public string ConnectionString(int? port = null, string extra = "") =>
        $"Host=127.0.0.1;Port={port ?? Proxy.PrimaryEndpoint.Port};Username={User};Password={Password};Database=postgres;Pooling=false;Timeout=10;{extra}";

    public async Task<NpgsqlConnection> OpenAsync(int? port = null)
    {
        var connection = new NpgsqlConnection(ConnectionString(port));
        await connection.OpenAsync();
        return connection;
    }

    public async Task DisposeAsync()
    {
        if (Proxy is not null) await Proxy.DisposeAsync();
        if (TlsProxy is not null) await TlsProxy.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
