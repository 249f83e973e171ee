using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using HA.Api.Config;
using HA.Core.Errors;

namespace HA.Api.Cli;

/// <summary>The API answered with a problem detail: the request was refused (exit 1), or not allowed (exit 4).</summary>
public sealed class ApiRefusal(string message, int status) : OperatorError(message)
{
    public int Status { get; } = status;

    public override int ExitCode => Status is 401 or 403 ? ApiClient.ExitUnauthorized : 1;
}

/// <summary>The API could not be reached at all (exit 3): nothing was asked, nothing changed.</summary>
public sealed class ApiUnreachable(string message, Exception inner) : OperatorError(message, inner)
{
    public override int ExitCode => ApiClient.ExitUnreachable;
}

/// <summary>
/// How the CLI talks to a node's HTTP API: where (<c>--url</c>, else <c>PGHA_URL</c> — either a
/// comma-separated list of nodes, tried in turn until one accepts the connection —, else the
/// <c>api.listen</c> of the pgha.yaml named by <c>--config</c>, else the nodes of the demo in
/// ./.pgha-demo, else http://127.0.0.1:8008), with which token (<c>--token</c>, else
/// <c>PGHA_TOKEN</c>), trusting which certificate for https (<c>--cacert</c>, else <c>PGHA_CACERT</c>,
/// besides the system's trust store), and how answers become exit codes: 0 done, 1 refused (the problem detail's
/// message is printed), 2 usage, 3 unreachable, 4 not authorized. Only a refused connection moves on to
/// the next node: a request that may have reached a node is never sent twice.
/// </summary>
public sealed class ApiClient : IDisposable
{
    public const int ExitUnreachable = 3;
    public const int ExitUnauthorized = 4;
    public const string DefaultUrl = "http://127.0.0.1:8008";

    /// <summary>The options every API command takes (with a value).</summary>
    public static readonly string[] ValueOptions = ["--url", "--token", "--config", "--cacert"];

    public const string OptionsHelp = """
        connection options (every API command):
          --url URL[,URL]  a node's API, or several tried in turn (default: $PGHA_URL, else api.listen of --config FILE,
                           else the nodes of the demo in ./.pgha-demo, else http://127.0.0.1:8008)
          --token TOKEN    bearer token for changes (default: $PGHA_TOKEN)
          --cacert FILE    trust this PEM CA or self-signed certificate for an https:// API (default: $PGHA_CACERT;
                           the system's trust store is used as well)
          --config FILE    a member's pgha.yaml: its api.listen is used when --url and $PGHA_URL are not set
          --json           print the API's JSON as it came instead of a table
        exit codes: 0 done, 1 refused (the reason is printed), 2 usage error, 3 API unreachable, 4 not authorized
        """;

    private readonly HttpClient _http;
    private readonly IReadOnlyList<Uri> _nodes;
    private readonly string? _token;

    private ApiClient(IReadOnlyList<Uri> nodes, string? token, HttpMessageHandler? handler)
    {
        _nodes = nodes;
        BaseUrl = nodes[0];
        _token = token;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan; // each call brings its own deadline (watch streams forever)
    }

    /// <summary>The node answering: the first that accepted a connection (before any call, the first given).</summary>
    public Uri BaseUrl { get; private set; }

    /// <summary>The bearer token sent with every request, or null.</summary>
    public string? Token => _token;

    /// <summary>Every node this client may ask, in the order tried.</summary>
    public IReadOnlyList<Uri> Nodes => _nodes;

    /// <summary>Builds the client from the command line and the environment (see <see cref="OptionsHelp"/>).</summary>
    /// <param name="fallbackToken">the token to send when none is given otherwise (<c>pgha member add</c>: the new node's api.token)</param>
    public static ApiClient From(CommandLine cli, IReadOnlyDictionary<string, string>? environment = null, HttpMessageHandler? handler = null, string? demoDirectory = null, string? fallbackToken = null)
    {
        string? Env(string name) => environment is null ? Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);
        var (urls, option) = cli.Value("--url") is { } given ? (given, "--url") : Env("PGHA_URL") is { } env ? (env, "$PGHA_URL") : (null, null);
        var nodes = urls is null ? null : urls.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(u => Parse(u, option!)).ToList();
        // A member's pgha.yaml names its API and holds its token; so does the demo's directory.
        var config = cli.Value("--config") is { } path ? (Config: PghaConfig.Load(path), Path: path) : default;
        if (nodes is null or [] && config.Config is not null) nodes = [Parse(Url(config.Config.ApiListen, config.Config.ApiCertificate is not null), "api.listen of " + config.Path)];
        var demo = config.Config is null ? DemoNodes(demoDirectory ?? HA.Api.Demo.DemoDirectory.DefaultPath) : null;
        if (nodes is null or []) nodes = demo?.Nodes;
        if (nodes is null or []) nodes = [new Uri(DefaultUrl + "/")];
        var cacert = cli.Value("--cacert") is { } file ? (File: file, Option: "--cacert") : Env("PGHA_CACERT") is { Length: > 0 } envFile ? (File: envFile, Option: "$PGHA_CACERT") : default;
        if (handler is null && cacert.File is not null) handler = Trusting(LoadRoots(cacert.File, cacert.Option));
        return new ApiClient(nodes, cli.Value("--token") ?? Env("PGHA_TOKEN") ?? config.Config?.ApiToken ?? fallbackToken ?? demo?.Token, handler) { _cacert = cacert.File };
    }

    private string? _cacert;

    /// <summary>The certificates of a PEM file (a CA, a bundle, or the server's self-signed certificate); a usage error naming the file when there are none.</summary>
    public static X509Certificate2Collection LoadRoots(string path, string option = "--cacert")
    {
        if (!File.Exists(path)) throw new UsageError($"{option} {path}: no such file; give the PEM certificate of the API's CA (or its self-signed certificate)");
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new UsageError($"{option} {path}: not a readable PEM certificate ({e.Message})");
        }
        return roots.Count > 0 ? roots : throw new UsageError($"{option} {path}: no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)");
    }

    /// <summary>A handler that accepts a server certificate the system trusts, or one that chains to <paramref name="roots"/> (its name still has to match).</summary>
    private static HttpClientHandler Trusting(X509Certificate2Collection roots) => new()
    {
        ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // a private CA rarely publishes revocation lists
            return chain.Build(certificate);
        },
    };

    private static Uri Parse(string url, string option)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
            throw new UsageError($"{option} '{url}' is not an http:// or https:// address of a pgha node's API");
        return new Uri(parsed.GetLeftPart(UriPartial.Authority) + "/");
    }

    private static string Url(IPEndPoint listen, bool https = false)
    {
        var host = listen.Address.Equals(IPAddress.Any) ? "127.0.0.1"
            : listen.Address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : listen.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();
        return $"{(https ? "https" : "http")}://{host}:{listen.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>The APIs of a demo in that directory (each node's listens on its gossip port's number) and its token, or null.</summary>
    private static (List<Uri> Nodes, string? Token)? DemoNodes(string directory)
    {
        var demo = new HA.Api.Demo.DemoDirectory(directory);
        if (!File.Exists(demo.StateFile)) return null;
        try
        {
            var state = demo.Load();
            return ([.. state.GossipPorts.Select(port => new Uri(Url(new IPEndPoint(IPAddress.Parse(state.ListenAddress), port)) + "/"))], state.ApiToken);
        }
        catch (Exception e) when (e is OperatorError or FormatException or IOException)
        {
            return null; // not a demo this client can read: the default applies
        }
    }

    public Task<JsonElement> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<JsonElement> PostAsync(string path, object? body, CancellationToken cancellationToken, TimeSpan? timeout = null) => SendAsync(HttpMethod.Post, path, body, cancellationToken, timeout);

    public Task<JsonElement> PatchAsync(string path, object? body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Patch, path, body, cancellationToken);

    public Task<JsonElement> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    /// <param name="timeout">how long the answer may take (default 30 s; longer for a call that waits for an outcome)</param>
    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(method, new Uri(path.TrimStart('/'), UriKind.Relative));
        if (body is not null) request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Refusal(method, path, response, text);
        if (string.IsNullOrWhiteSpace(text)) return JsonDocument.Parse("{}").RootElement.Clone();
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new OperatorError($"{method} {Describe(path)} answered {(int)response.StatusCode} with a body that is not JSON ({e.Message}); is {BaseUrl} a pgha API?", e);
        }
    }

    /// <summary>Sends a request whose response is read by the caller as a stream (Server-Sent Events).</summary>
    public async Task<HttpResponseMessage> OpenStreamAsync(string path, string? lastEventId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path.TrimStart('/'), UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null) request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        var response = await SendRawAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return response;
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        response.Dispose();
        throw Refusal(HttpMethod.Get, path, response, text);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken deadline, CancellationToken caller)
    {
        var path = request.RequestUri!.OriginalString;
        var refused = new List<string>();
        // The node that answered last is asked first; the others in their order after it.
        foreach (var node in _nodes.OrderBy(n => n == BaseUrl ? 0 : 1))
        {
            // Not disposed here: it shares the caller's content (disposed with the caller's request) and is the response's RequestMessage.
            var attempt = new HttpRequestMessage(request.Method, new Uri(node, path)) { Content = request.Content, Version = request.Version };
            foreach (var header in request.Headers) attempt.Headers.TryAddWithoutValidation(header.Key, header.Value);
            if (!string.IsNullOrEmpty(_token)) attempt.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            try
            {
                var response = await _http.SendAsync(attempt, completion, deadline).ConfigureAwait(false);
                BaseUrl = node;
                return response;
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound })
            {
                // Nothing reached that node: the next one may be asked safely.
                refused.Add($"{node.GetLeftPart(UriPartial.Authority)}: {e.GetBaseException().Message}");
            }
            catch (HttpRequestException e) when (e.GetBaseException() is AuthenticationException tls)
            {
                throw new ApiUnreachable($"the certificate of the pgha API at {node} is not trusted ({tls.Message}); " +
                    (_cacert is null ? "give its CA or self-signed certificate with --cacert FILE or $PGHA_CACERT" : $"it does not chain to {_cacert} or does not name {node.Host}"), e);
            }
            catch (HttpRequestException e)
            {
                throw new ApiUnreachable($"the pgha API at {node} failed: {e.GetBaseException().Message}; check --url or $PGHA_URL (is pgha run up there?)", e);
            }
            catch (OperationCanceledException e) when (!caller.IsCancellationRequested)
            {
                throw new ApiUnreachable($"the pgha API at {node} did not answer {request.Method} {Describe(path)} in time", e);
            }
        }
        throw new ApiUnreachable($"cannot reach the pgha API ({string.Join("; ", refused)}); check --url or $PGHA_URL (is pgha run up there?)", new HttpRequestException(refused[^1]));
    }

    /// <summary>The one line printed for a refused request: the problem detail's title and detail, or the status.</summary>
    public static ApiRefusal Refusal(HttpMethod method, string path, HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        string? title = null, detail = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (document.RootElement.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String) title = t.GetString();
                if (document.RootElement.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String) detail = d.GetString();
            }
        }
        catch (JsonException)
        {
            // Not a problem detail: the status line says what there is to say.
        }
        var reason = detail ?? title ?? (string.IsNullOrWhiteSpace(body) ? response.ReasonPhrase ?? "" : body.Trim().Split('\n')[0]);
        var what = status switch
        {
            401 => "not authorized (give a token with --token or $PGHA_TOKEN)",
            403 => "forbidden (the token is not accepted)",
            404 when title is null && detail is null => $"not found: {Describe(path)} (is {response.RequestMessage?.RequestUri?.GetLeftPart(UriPartial.Authority)} a pgha API of this version?)",
            _ => null,
        };
        var message = what is null ? reason : string.IsNullOrEmpty(detail ?? title) ? what : $"{what}: {reason}";
        return new ApiRefusal($"{message} ({status} from {method} {Describe(path)})", status);
    }

    private static string Describe(string path) => "/" + path.TrimStart('/');

    public void Dispose() => _http.Dispose();
}
