using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
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
/// How the CLI talks to a node's HTTP API: where (<c>--url</c>, else <c>PGHA_URL</c>, else the
/// <c>api.listen</c> of the pgha.yaml named by <c>--config</c>, else http://127.0.0.1:8008), with
/// which token (<c>--token</c>, else <c>PGHA_TOKEN</c>), and how answers become exit codes: 0 done,
/// 1 refused (the problem detail's message is printed), 2 usage, 3 unreachable, 4 not authorized.
/// </summary>
public sealed class ApiClient : IDisposable
{
    public const int ExitUnreachable = 3;
    public const int ExitUnauthorized = 4;
    public const string DefaultUrl = "http://127.0.0.1:8008";

    /// <summary>The options every API command takes (with a value).</summary>
    public static readonly string[] ValueOptions = ["--url", "--token", "--config"];

    public const string OptionsHelp = """
        connection options (every API command):
          --url URL        a node's API (default: $PGHA_URL, else api.listen of --config FILE, else http://127.0.0.1:8008)
          --token TOKEN    bearer token for changes (default: $PGHA_TOKEN)
          --config FILE    a member's pgha.yaml: its api.listen is used when --url and $PGHA_URL are not set
          --json           print the API's JSON as it came instead of a table
        exit codes: 0 done, 1 refused (the reason is printed), 2 usage error, 3 API unreachable, 4 not authorized
        """;

    private readonly HttpClient _http;

    private ApiClient(Uri baseUrl, string? token, HttpMessageHandler? handler)
    {
        BaseUrl = baseUrl;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.BaseAddress = baseUrl;
        _http.Timeout = Timeout.InfiniteTimeSpan; // each call brings its own deadline (watch streams forever)
        if (!string.IsNullOrEmpty(token)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Uri BaseUrl { get; }

    /// <summary>Builds the client from the command line and the environment (see <see cref="OptionsHelp"/>).</summary>
    public static ApiClient From(CommandLine cli, IReadOnlyDictionary<string, string>? environment = null, HttpMessageHandler? handler = null)
    {
        string? Env(string name) => environment is null ? Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);
        var url = cli.Value("--url") ?? Env("PGHA_URL");
        if (url is null && cli.Value("--config") is { } path)
        {
            var listen = PghaConfig.Load(path).ApiListen;
            var host = listen.Address.Equals(IPAddress.Any) ? "127.0.0.1" : listen.Address.Equals(IPAddress.IPv6Any) ? "[::1]" : listen.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();
            url = $"http://{host}:{listen.Port}";
        }
        url ??= DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
            throw new UsageError($"--url '{url}' is not an http:// or https:// address of a pgha node's API");
        return new ApiClient(new Uri(parsed.GetLeftPart(UriPartial.Authority) + "/"), cli.Value("--token") ?? Env("PGHA_TOKEN"), handler);
    }

    public Task<JsonElement> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<JsonElement> PostAsync(string path, object? body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<JsonElement> PatchAsync(string path, object? body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Patch, path, body, cancellationToken);

    public Task<JsonElement> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
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
        var request = new HttpRequestMessage(HttpMethod.Get, path.TrimStart('/'));
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
        try
        {
            return await _http.SendAsync(request, completion, deadline).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ApiUnreachable($"cannot reach the pgha API at {BaseUrl}: {e.GetBaseException().Message}; check --url or $PGHA_URL (is pgha run up there?)", e);
        }
        catch (OperationCanceledException e) when (!caller.IsCancellationRequested)
        {
            throw new ApiUnreachable($"the pgha API at {BaseUrl} did not answer {request.Method} {Describe(request.RequestUri!.OriginalString)} within 30 s", e);
        }
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
