using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using HA.Agent.Lease;
using HA.Agent.Postgres;
using HA.Core.Errors;
using HA.Core.Events;
using HA.Core.Failover;
using YamlDotNet.RepresentationModel;

namespace HA.Api.Config;

/// <summary>A member of the cluster as the configuration lists it.</summary>
public sealed record MemberConfig(string Name, string Host, int Port, int FailoverPriority, bool NoFailover, int GossipPort = MemberConfig.DefaultGossipPort)
{
    public const int DefaultGossipPort = 7433;
}

/// <summary>The proxy section: whether the file has one, the listeners, and how far behind a replica may be and still serve reads.</summary>
public sealed record ProxyConfig(bool Configured, HA.Proxy.ProxyOptions Options, long MaxReplicaLag)
{
    public const long DefaultMaxReplicaLag = 16 * 1024 * 1024;
}

/// <summary>
/// pgha.yaml bound to typed settings. Every key is known and checked at start; environment variables
/// <c>PGHA__SECTION__KEY</c> override the file (<c>PGHA__LEASE__TTL=20s</c>); an error names the key
/// and says what is expected.
/// </summary>
public sealed partial record PghaConfig
{
    public required string Cluster { get; init; }
    public required MemberConfig Node { get; init; }
    public required string DataDirectory { get; init; }
    public string? PostgresBinDirectory { get; init; }
    public string? PostgresOsUser { get; init; }
    public required string WitnessConnectionString { get; init; }
    public string WitnessSchema { get; init; } = "pgha";
    public required LeaseOptions Lease { get; init; }
    public required DetectionSettings Detection { get; init; }
    public required FailoverSettings Failover { get; init; }
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan DirectiveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>switchover.max_lag: a switchover target further behind the primary is refused (default 1 MiB).</summary>
    public long SwitchoverMaxLag { get; init; } = 1024 * 1024;
    public required IReadOnlyList<MemberConfig> Members { get; init; }

    /// <summary>api.listen: where the node's HTTP endpoints listen (default 127.0.0.1:8008, as Patroni's REST API).</summary>
    public IPEndPoint ApiListen { get; init; } = new(IPAddress.Loopback, 8008);

    /// <summary>api.token (or the content of api.token_file): the bearer token changes need; null refuses every change.</summary>
    public string? ApiToken { get; init; }

    /// <summary>api.read_access: open (default) or token — whether reads need the token too.</summary>
    public bool ApiReadsNeedToken { get; init; }

    /// <summary>api.tls_certificate and api.tls_key (PEM): the API serves HTTPS; null serves HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ApiCertificate { get; init; }

    /// <summary>replication.synchronous_mode (off | on | quorum), synchronous_node_count, synchronous_mode_strict.</summary>
    public SynchronousSettings Synchronous { get; init; } = new();

    /// <summary>proxy.*: the proxy's listeners; <see cref="ProxyConfig.Configured"/> says whether the file has a proxy section (pgha run starts the proxy only then).</summary>
    public ProxyConfig Proxy { get; init; } = new(false, new HA.Proxy.ProxyOptions(), ProxyConfig.DefaultMaxReplicaLag);

    /// <summary>gossip.secret: the cluster secret heartbeats are authenticated with (required to run).</summary>
    public string? GossipSecret { get; init; }

    /// <summary>postgresql.superuser_password and postgresql.replication_password (required to run).</summary>
    public string? SuperuserPassword { get; init; }
    public string? ReplicationPassword { get; init; }

    /// <summary>
    /// Every key as read (file and PGHA__ overrides), members as one <c>members</c> entry: what a reload
    /// compares to say which keys changed. Holds secrets: never print the values.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Where the witness store is (witness.connection_string, witness.schema).</summary>
    public HA.Projections.WitnessStoreOptions Witness => new() { ConnectionString = WitnessConnectionString, Schema = WitnessSchema };

    /// <summary>What <c>pgha run</c> needs beyond what every command needs; throws naming the first missing key.</summary>
    public PghaConfig RequireRunnable(string source)
    {
        if (string.IsNullOrEmpty(GossipSecret)) throw new OperatorError($"{source}: gossip.secret is required to run an agent (at least 16 characters, the same on every member)");
        if (GossipSecret.Length < 16) throw new OperatorError($"{source}: gossip.secret is {GossipSecret.Length} characters long; use at least 16");
        if (string.IsNullOrEmpty(SuperuserPassword)) throw new OperatorError($"{source}: postgresql.superuser_password is required to run an agent");
        if (string.IsNullOrEmpty(ReplicationPassword)) throw new OperatorError($"{source}: postgresql.replication_password is required to run an agent");
        if (Members.GroupBy(m => (m.Host, m.GossipPort)).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw new OperatorError($"{source}: members {string.Join(" and ", clash.Select(m => m.Name))} share the gossip address {clash.Key.Host}:{clash.Key.GossipPort}");
        if (Members.GroupBy(m => m.Name.Replace('-', '_')).FirstOrDefault(g => g.Count() > 1) is { } alike)
            throw new OperatorError($"{source}: members {string.Join(" and ", alike.Select(m => m.Name))} differ only by '-' and '_', which their directive queues cannot tell apart");
        return this;
    }

    private static readonly Dictionary<string, string[]> Sections = new(StringComparer.Ordinal)
    {
        [""] = ["cluster", "node", "postgresql", "witness", "lease", "failover", "switchover", "replication", "health", "gossip", "api", "proxy", "members"],
        ["proxy"] = ["listen", "primary_port", "replica_port", "replica_fallback", "replica_policy", "max_replica_lag", "tls_certificate", "tls_key"],
        ["api"] = ["listen", "token", "token_file", "read_access", "tls_certificate", "tls_key"],
        ["switchover"] = ["max_lag"],
        ["replication"] = ["synchronous_mode", "synchronous_node_count", "synchronous_mode_strict"],
        ["node"] = ["name", "host", "port", "gossip_port", "data_dir", "failover_priority", "nofailover"],
        ["postgresql"] = ["bin_dir", "os_user", "superuser_password", "replication_password"],
        ["gossip"] = ["secret"],
        ["witness"] = ["connection_string", "schema"],
        ["lease"] = ["backend", "ttl", "fence_margin", "failsafe", "postgres", "etcd", "consul"],
        ["lease.postgres"] = ["connection_string"],
        ["lease.etcd"] = ["endpoints", "username", "password", "prefix"],
        ["lease.consul"] = ["address", "token"],
        ["failover"] = ["failure_timeout", "primary_restart_timeout", "maximum_lag_on_failover", "report_freshness", "directive_timeout"],
        ["health"] = ["interval"],
    };

    /// <summary>Reads and checks a configuration file, with <paramref name="environment"/> overrides (PGHA__…).</summary>
    public static PghaConfig Load(string path, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(path)) throw new OperatorError($"configuration file {path} does not exist");
        return Parse(File.ReadAllText(path), Path.GetFileName(path), environment ?? Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal));
    }

    public static PghaConfig Parse(string text, string source, IReadOnlyDictionary<string, string> environment)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var members = new List<MemberConfig>();
        var root = YamlRoot.Load(text, source, Sections[""], message => new OperatorError(message));
        Flatten(root, "", source, values, members);
        foreach (var (name, value) in environment)
        {
            if (!name.StartsWith("PGHA__", StringComparison.Ordinal)) continue;
            var key = name["PGHA__".Length..].ToLowerInvariant().Replace("__", ".", StringComparison.Ordinal);
            var section = key.Contains('.', StringComparison.Ordinal) ? key[..key.LastIndexOf('.')] : "";
            if (!Sections.TryGetValue(section, out var allowed) || !allowed.Contains(key[(key.LastIndexOf('.') + 1)..]))
                throw new OperatorError($"environment variable {name} names no setting ({key})");
            values[key] = value;
        }
        return Bind(values, members, source);
    }

    private static void Flatten(YamlMappingNode mapping, string prefix, string source, Dictionary<string, string> values, List<MemberConfig> members)
    {
        var section = prefix.TrimEnd('.');
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            var full = prefix + key;
            if (!Sections[section].Contains(key))
                throw new OperatorError($"{source}: unknown key '{full}' (line {keyNode.Start.Line}); expected {string.Join(", ", Sections[section].Select(k => prefix + k))}");
            switch (valueNode)
            {
                case YamlMappingNode child when Sections.ContainsKey(full):
                    Flatten(child, full + ".", source, values, members);
                    break;
                case YamlSequenceNode list when full == "members":
                    for (var i = 0; i < list.Children.Count; i++) members.Add(Member(list.Children[i], $"members[{i}]", source));
                    break;
                case YamlScalarNode scalar when !Sections.ContainsKey(full) && full != "members":
                    values[full] = scalar.Value ?? "";
                    break;
                default:
                    throw new OperatorError($"{source}: '{full}' (line {keyNode.Start.Line}) must be {(Sections.ContainsKey(full) ? "a mapping" : full == "members" ? "a list of { name, host, port }" : "a single value")}");
            }
        }
    }

    private static MemberConfig Member(YamlNode node, string key, string source)
    {
        if (node is not YamlMappingNode mapping) throw new OperatorError($"{source}: {key} must be a mapping like {{ name: n2, host: 10.0.0.2, port: 5432 }}");
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in mapping.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? "";
            if (name is not ("name" or "host" or "port" or "gossip_port" or "failover_priority" or "nofailover"))
                throw new OperatorError($"{source}: unknown key '{key}.{name}' (line {k.Start.Line}); expected name, host, port, gossip_port, failover_priority, nofailover");
            fields[name] = (v as YamlScalarNode)?.Value ?? "";
        }
        return MemberFrom(fields, key, source);
    }

    private static MemberConfig MemberFrom(IReadOnlyDictionary<string, string> fields, string key, string source)
    {
        var name = fields.GetValueOrDefault("name") ?? throw new OperatorError($"{source}: {key}.name is missing");
        if (!NodeSettings.IsValidName(name)) throw new OperatorError($"{source}: {key}.name '{name}' is not valid: use a letter, then letters, digits, '-' or '_'");
        return new MemberConfig(name,
            fields.GetValueOrDefault("host") ?? throw new OperatorError($"{source}: {key}.host is missing"),
            Integer(fields, "port", key, source, 1, 65535) ?? throw new OperatorError($"{source}: {key}.port is missing"),
            Integer(fields, "failover_priority", key, source, int.MinValue, int.MaxValue) ?? 0,
            Boolean(fields, "nofailover", key, source) ?? false,
            Integer(fields, "gossip_port", key, source, 1, 65535) ?? MemberConfig.DefaultGossipPort);
    }

    private static PghaConfig Bind(Dictionary<string, string> v, List<MemberConfig> members, string source)
    {
        string Required(string key) => v.TryGetValue(key, out var value) && value.Length > 0 ? value : throw new OperatorError($"{source}: {key} is required");
        var nodeFields = v.Where(p => p.Key.StartsWith("node.", StringComparison.Ordinal)).ToDictionary(p => p.Key["node.".Length..], p => p.Value);
        var node = MemberFrom(nodeFields, "node", source);
        var cluster = Required("cluster");
        if (!NodeSettings.IsValidName(cluster)) throw new OperatorError($"{source}: cluster '{cluster}' is not valid: use a letter, then letters, digits, '-' or '_'");
        var all = members.Where(m => m.Name != node.Name).Prepend(node).ToList();
        if (all.GroupBy(m => (m.Host, m.Port)).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw new OperatorError($"{source}: members {string.Join(" and ", clash.Select(m => m.Name))} share the address {clash.Key.Host}:{clash.Key.Port}");
        if (members.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new OperatorError($"{source}: member {twice.Key} is listed twice");

        var backend = v.GetValueOrDefault("lease.backend") ?? "postgres";
        var lease = new LeaseOptions
        {
            Backend = backend,
            Ttl = Duration(v, "lease.ttl", source) ?? TimeSpan.FromSeconds(30),
            FenceMargin = Duration(v, "lease.fence_margin", source) ?? TimeSpan.FromSeconds(5),
            Failsafe = Boolean(v, "lease.failsafe", "", source) ?? false,
            PostgresConnectionString = v.GetValueOrDefault("lease.postgres.connection_string") ?? v.GetValueOrDefault("witness.connection_string"),
            Etcd = v.TryGetValue("lease.etcd.endpoints", out var endpoints)
                ? new EtcdLeaseOptions { Endpoints = endpoints, Username = v.GetValueOrDefault("lease.etcd.username"), Password = v.GetValueOrDefault("lease.etcd.password"), Prefix = v.GetValueOrDefault("lease.etcd.prefix") ?? "/pgha/" }
                : null,
            Consul = v.TryGetValue("lease.consul.address", out var address) ? new ConsulLeaseOptions { Address = address, Token = v.GetValueOrDefault("lease.consul.token") } : null,
        };
        if (lease.Timings.Problems("lease").FirstOrDefault() is { } timing) throw new OperatorError($"{source}: {timing}");
        if (backend is not ("postgres" or "etcd" or "consul")) throw new OperatorError($"{source}: lease.backend '{backend}' is not one of postgres, etcd, consul");
        if (backend == "etcd" && lease.Etcd is null) throw new OperatorError($"{source}: lease.etcd.endpoints is required for lease.backend etcd");
        if (backend == "consul" && lease.Consul is null) throw new OperatorError($"{source}: lease.consul.address is required for lease.backend consul");

        var (apiToken, readsNeedToken) = ApiAccess(v, source);
        return new PghaConfig
        {
            Cluster = cluster,
            Node = node,
            DataDirectory = Required("node.data_dir"),
            PostgresBinDirectory = v.GetValueOrDefault("postgresql.bin_dir"),
            PostgresOsUser = v.GetValueOrDefault("postgresql.os_user"),
            WitnessConnectionString = Required("witness.connection_string"),
            WitnessSchema = v.GetValueOrDefault("witness.schema") ?? "pgha",
            Lease = lease,
            Detection = new DetectionSettings
            {
                FailureTimeout = Duration(v, "failover.failure_timeout", source) ?? TimeSpan.FromSeconds(3),
                PrimaryRestartTimeout = Duration(v, "failover.primary_restart_timeout", source, zeroAllowed: true) ?? TimeSpan.FromSeconds(10),
            },
            Failover = new FailoverSettings
            {
                MaximumLagOnFailover = Size(v, "failover.maximum_lag_on_failover", source) ?? 1024 * 1024,
                ReportFreshness = Duration(v, "failover.report_freshness", source) ?? TimeSpan.FromSeconds(10),
            },
            HealthInterval = Duration(v, "health.interval", source) ?? TimeSpan.FromMilliseconds(500),
            DirectiveTimeout = Duration(v, "failover.directive_timeout", source) ?? TimeSpan.FromSeconds(30),
            SwitchoverMaxLag = Size(v, "switchover.max_lag", source) ?? 1024 * 1024,
            Synchronous = new SynchronousSettings
            {
                Mode = v.GetValueOrDefault("replication.synchronous_mode") switch
                {
                    null or "off" or "false" => SynchronousMode.Off,
                    "on" or "true" => SynchronousMode.On,
                    "quorum" => SynchronousMode.Quorum,
                    var other => throw new OperatorError($"{source}: replication.synchronous_mode: '{other}' is not one of off, on, quorum"),
                },
                NodeCount = Integer(v, "replication.synchronous_node_count", "", source, 1, 1000) ?? 1,
                Strict = Boolean(v, "replication.synchronous_mode_strict", "", source) ?? false,
            },
            ApiListen = v.TryGetValue("api.listen", out var listen) ? Endpoint(listen, "api.listen", source) : new IPEndPoint(IPAddress.Loopback, 8008),
            ApiToken = apiToken,
            ApiReadsNeedToken = readsNeedToken,
            ApiCertificate = Certificate(v, "api", source),
            Members = all,
            Proxy = ProxyFrom(v, source),
            GossipSecret = v.GetValueOrDefault("gossip.secret"),
            Settings = new Dictionary<string, string>(v, StringComparer.Ordinal) { ["members"] = string.Join("; ", members) },
            SuperuserPassword = v.GetValueOrDefault("postgresql.superuser_password"),
            ReplicationPassword = v.GetValueOrDefault("postgresql.replication_password"),
        };
    }

    /// <summary>api.token or api.token_file (not both), and api.read_access (open | token; token needs a token).</summary>
    private static (string? Token, bool ReadsNeedToken) ApiAccess(IReadOnlyDictionary<string, string> v, string source)
    {
        var token = ApiTokenFrom(v, source);
        var readsNeedToken = v.GetValueOrDefault("api.read_access") switch
        {
            null or "open" => false,
            "token" => true,
            var other => throw new OperatorError($"{source}: api.read_access: '{other}' is not one of open, token"),
        };
        if (readsNeedToken && token is null) throw new OperatorError($"{source}: api.read_access is token but no api.token or api.token_file is set; set one, or make reads open");
        return (token, readsNeedToken);
    }

    private static ProxyConfig ProxyFrom(IReadOnlyDictionary<string, string> v, string source)
    {
        var configured = v.Keys.Any(k => k.StartsWith("proxy.", StringComparison.Ordinal));
        var listen = IPAddress.Loopback;
        if (v.TryGetValue("proxy.listen", out var text) && !IPAddress.TryParse(text.Trim(), out listen))
            throw new OperatorError($"{source}: proxy.listen: '{text}' is not an IP address (use 127.0.0.1, 0.0.0.0 or ::)");
        var primaryPort = Integer(v, "proxy.primary_port", "", source, 1, 65535) ?? 6432;
        var replicaPort = Integer(v, "proxy.replica_port", "", source, 1, 65535) ?? 6433;
        if (primaryPort == replicaPort) throw new OperatorError($"{source}: proxy.replica_port {replicaPort} is the same as proxy.primary_port; give them different ports");
        var fallback = v.GetValueOrDefault("proxy.replica_fallback") switch
        {
            null or "primary" => HA.Proxy.Routing.ReplicaFallback.Primary,
            "refuse" => HA.Proxy.Routing.ReplicaFallback.Refuse,
            var other => throw new OperatorError($"{source}: proxy.replica_fallback: '{other}' is not one of primary, refuse"),
        };
        var policy = v.GetValueOrDefault("proxy.replica_policy") ?? "round-robin";
        if (!HA.Proxy.Routing.ReplicaBalancers.Names.Contains(policy))
            throw new OperatorError($"{source}: proxy.replica_policy: '{policy}' is not one of {string.Join(", ", HA.Proxy.Routing.ReplicaBalancers.Names)}");
        return new ProxyConfig(configured, new HA.Proxy.ProxyOptions { Listen = listen!, PrimaryPort = primaryPort, ReplicaPort = replicaPort, ReplicaFallback = fallback, ReplicaPolicy = policy, Certificate = Certificate(v, "proxy", source) },
            Size(v, "proxy.max_replica_lag", source) ?? ProxyConfig.DefaultMaxReplicaLag);
    }

    /// <summary>The shortest api.token accepted: long enough that guessing it over HTTP is hopeless.</summary>
    public const int MinimumApiTokenLength = 16;

    /// <summary>api.token or api.token_file (not both): read and checked at start (and on reload).</summary>
    private static string? ApiTokenFrom(IReadOnlyDictionary<string, string> v, string source)
    {
        var token = v.GetValueOrDefault("api.token");
        var file = v.GetValueOrDefault("api.token_file");
        if (!string.IsNullOrEmpty(token) && !string.IsNullOrEmpty(file)) throw new OperatorError($"{source}: api.token and api.token_file are both set; give one of them");
        var key = "api.token";
        if (!string.IsNullOrEmpty(file))
        {
            key = "api.token_file";
            if (!File.Exists(file)) throw new OperatorError($"{source}: api.token_file: {file} does not exist");
            try
            {
                token = File.ReadAllText(file).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OperatorError($"{source}: api.token_file: cannot read {file} ({e.Message})");
            }
        }
        if (string.IsNullOrEmpty(token)) return null;
        if (token.Length < MinimumApiTokenLength) throw new OperatorError($"{source}: {key} is {token.Length} characters long; use at least {MinimumApiTokenLength} (openssl rand -hex 24 makes one)");
        if (token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))) throw new OperatorError($"{source}: {key} contains spaces or control characters; use letters, digits and punctuation only");
        return token;
    }

    /// <summary>SECTION.tls_certificate and SECTION.tls_key: PEM files, both or neither; read and checked at start.</summary>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate(IReadOnlyDictionary<string, string> v, string section, string source)
    {
        var certificate = v.GetValueOrDefault(section + ".tls_certificate");
        var key = v.GetValueOrDefault(section + ".tls_key");
        if (string.IsNullOrEmpty(certificate) && string.IsNullOrEmpty(key)) return null;
        if (string.IsNullOrEmpty(certificate)) throw new OperatorError($"{source}: {section}.tls_key is set but {section}.tls_certificate is not; give both PEM files or neither");
        if (string.IsNullOrEmpty(key)) throw new OperatorError($"{source}: {section}.tls_certificate is set but {section}.tls_key is not; give both PEM files or neither");
        if (!File.Exists(certificate)) throw new OperatorError($"{source}: {section}.tls_certificate: {certificate} does not exist");
        if (!File.Exists(key)) throw new OperatorError($"{source}: {section}.tls_key: {key} does not exist");
        try
        {
            using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certificate, key);
            // Through PKCS#12, so that SslStream gets a key it can use on every platform.
            return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new OperatorError($"{source}: {section}.tls_certificate / {section}.tls_key: cannot load {certificate} with {key}: {e.Message}");
        }
    }

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)(ms|s|m|h)$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^(\d+)\s*(B|kB|MB|GB)?$")]
    private static partial Regex SizePattern();

    /// <summary>A duration as pgha writes them everywhere (500ms, 10s, 1m, 1h); null when the text is not one.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        var match = DurationPattern().Match(text.Trim());
        if (!match.Success) return null;
        var amount = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "ms" => TimeSpan.FromMilliseconds(amount), "s" => TimeSpan.FromSeconds(amount), "m" => TimeSpan.FromMinutes(amount), _ => TimeSpan.FromHours(amount) };
    }

    private static TimeSpan? Duration(IReadOnlyDictionary<string, string> v, string key, string source, bool zeroAllowed = false)
    {
        if (!v.TryGetValue(key, out var text)) return null;
        var span = ParseDuration(text) ?? throw new OperatorError($"{source}: {key}: '{text}' is not a duration (use 500ms, 10s, 1m or 1h)");
        return span > TimeSpan.Zero || (zeroAllowed && span == TimeSpan.Zero) ? span : throw new OperatorError($"{source}: {key} must be longer than zero");
    }

    private static IPEndPoint Endpoint(string text, string key, string source) =>
        IPEndPoint.TryParse(text.Trim(), out var endpoint) && endpoint.Port > 0
            ? endpoint
            : throw new OperatorError($"{source}: {key}: '{text}' is not an address and port (use 127.0.0.1:8008, 0.0.0.0:8008 or [::1]:8008)");

    private static long? Size(IReadOnlyDictionary<string, string> v, string key, string source)
    {
        if (!v.TryGetValue(key, out var text)) return null;
        var match = SizePattern().Match(text.Trim());
        if (!match.Success) throw new OperatorError($"{source}: {key}: '{text}' is not a size (use 1048576, 512kB, 1MB or 1GB)");
        var amount = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return amount * match.Groups[2].Value switch { "kB" => 1024L, "MB" => 1024L * 1024, "GB" => 1024L * 1024 * 1024, _ => 1L };
    }

    private static int? Integer(IReadOnlyDictionary<string, string> v, string field, string key, string source, int min, int max)
    {
        if (!v.TryGetValue(field, out var text)) return null;
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
            ? number
            : throw new OperatorError($"{source}: {(key.Length > 0 ? key + "." : "")}{field}: '{text}' is not a whole number from {min} to {max}");
    }

    private static bool? Boolean(IReadOnlyDictionary<string, string> v, string field, string key, string source)
    {
        if (!v.TryGetValue(field, out var text)) return null;
        return text switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            _ => throw new OperatorError($"{source}: {(key.Length > 0 ? key + "." : "")}{field}: '{text}' is not true or false"),
        };
    }
}
