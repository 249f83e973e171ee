using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HA.Agent.Lease.Consul;

/// <summary>A key as Consul's KV API returns it.</summary>
public sealed record ConsulKey(string Key, string? Value, string? Session, long LockIndex, long CreateIndex, long ModifyIndex);

/// <summary>An answer Consul gave with a status pgha did not expect; the message is Consul's own text.</summary>
public sealed class ConsulApiException(HttpStatusCode status, string message) : Exception($"Consul answered {(int)status}: {message}")
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// The small part of Consul's HTTP API pgha uses (sessions, KV locking, blocking queries, service
/// registration), typed, over <see cref="HttpClient"/>: no NuGet Consul client is available here.
/// </summary>
public sealed class ConsulClient(HttpClient http, string? token) : IDisposable
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = null, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public Uri Address => http.BaseAddress!;

    /// <summary>Creates a session with no health checks (not even serfHealth) and no lock delay.</summary>
    public async Task<string> CreateSessionAsync(string name, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, object>
        {
            ["Name"] = name,
            ["TTL"] = $"{(int)Math.Ceiling(ttl.TotalSeconds)}s",
            ["Behavior"] = "delete",
            ["LockDelay"] = "0s",
            ["NodeChecks"] = Array.Empty<string>(),
        };
        using var response = await SendAsync(HttpMethod.Put, "v1/session/create", JsonContent.Create(body, options: Json), cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        return document.RootElement.GetProperty("ID").GetString()!;
    }

    /// <summary>Renews a session; false when Consul no longer knows it (expired or destroyed).</summary>
    public async Task<bool> RenewSessionAsync(string session, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, $"v1/session/renew/{session}", null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task DestroySessionAsync(string session, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, $"v1/session/destroy/{session}", null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes the lock on <paramref name="key"/> for <paramref name="session"/>; false when another session holds it.</summary>
    public async Task<bool> AcquireAsync(string key, string session, string value, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, $"v1/kv/{key}?acquire={session}", new StringContent(value, Encoding.UTF8), cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<bool>(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a key; with <paramref name="waitIndex"/>, a blocking query that returns when it changes past that index or <paramref name="wait"/> runs out.</summary>
    public async Task<(ConsulKey? Key, long Index)> GetKeyAsync(string key, CancellationToken cancellationToken, long? waitIndex = null, TimeSpan? wait = null)
    {
        var query = waitIndex is { } index ? $"?index={index}&wait={(int)(wait ?? TimeSpan.FromSeconds(5)).TotalSeconds}s" : "";
        using var response = await SendAsync(HttpMethod.Get, $"v1/kv/{key}{query}", null, cancellationToken).ConfigureAwait(false);
        var consulIndex = response.Headers.TryGetValues("X-Consul-Index", out var values) && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        if (response.StatusCode == HttpStatusCode.NotFound) return (null, consulIndex);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        var entry = document.RootElement[0];
        var value = entry.TryGetProperty("Value", out var v) && v.ValueKind == JsonValueKind.String ? Encoding.UTF8.GetString(Convert.FromBase64String(v.GetString()!)) : null;
        var owner = entry.TryGetProperty("Session", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        return (new ConsulKey(entry.GetProperty("Key").GetString()!, value, owner, entry.GetProperty("LockIndex").GetInt64(), entry.GetProperty("CreateIndex").GetInt64(), entry.GetProperty("ModifyIndex").GetInt64()), consulIndex);
    }

    /// <summary>Registers a service on the local agent (pgha-primary / pgha-replica), so Consul's catalog and DNS can route to it.</summary>
    public async Task RegisterServiceAsync(string id, string name, string address, int port, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, object> { ["ID"] = id, ["Name"] = name, ["Address"] = address, ["Port"] = port, ["Tags"] = tags };
        using var response = await SendAsync(HttpMethod.Put, "v1/agent/service/register", JsonContent.Create(body, options: Json), cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeregisterServiceAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, $"v1/agent/service/deregister/{id}", null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.NotFound) await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Who leads Consul's servers: a cheap call that proves the address and the token.</summary>
    public async Task<string> LeaderAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, "v1/status/leader", null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (!string.IsNullOrEmpty(token)) request.Headers.Add("X-Consul-Token", token);
        return http.SendAsync(request, cancellationToken);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var text = (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Trim();
        throw new ConsulApiException(response.StatusCode, text.Length == 0 ? response.ReasonPhrase ?? "no message" : text);
    }

    public void Dispose() => http.Dispose();
}
