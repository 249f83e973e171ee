using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HA.Testing;

/// <summary>A self-signed certificate and its key written as PEM files, for tests of TLS (the API, the proxy).</summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        Certificate = certificate;
        CertificatePath = certificatePath;
        KeyPath = keyPath;
    }

    /// <summary>The certificate (with its private key), valid from a few minutes ago for a day.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate as PEM (<c>NAME.crt</c>).</summary>
    public string CertificatePath { get; }

    /// <summary>Its RSA key as PKCS#8 PEM (<c>NAME.key</c>).</summary>
    public string KeyPath { get; }

    /// <summary>Makes a self-signed certificate for <paramref name="subject"/> (alternative names 127.0.0.1 and localhost) and writes <c>NAME.crt</c> and <c>NAME.key</c> into <paramref name="directory"/>.</summary>
    public static TestCertificates SelfSigned(string directory, string name, string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        // Clients check the name they connected to against the alternative names: the loopback ones.
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(directory, name + ".crt");
        var keyPath = Path.Combine(directory, name + ".key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificates(certificate, certificatePath, keyPath);
    }

    public void Dispose() => Certificate.Dispose();
}
