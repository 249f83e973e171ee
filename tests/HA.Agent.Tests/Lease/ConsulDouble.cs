using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HA.Agent.Tests.Lease;

/// <summary>How a <see cref="ConsulDouble"/> behaves; the defaults mimic a single `consul agent -dev`.</summary>
public sealed record ConsulDoubleOptions
{
    /// <summary>When set, every request must carry this token (X-Consul-Token, ?token= or Authorization: Bearer).</summary>
    public string? AclToken { get; init; }

    /// <summary>
    /// A session is invalidated once TTL × this factor passes without a renewal. Real Consul uses 2 and only
    /// promises the lower bound (TTL); 1 makes expiry tests deterministic.
    /// </summary>
    public double ExpiryGraceFactor { get; init; } = 1.0;

    /// <summary>The clock for session expiry, lock-delay and blocking-query waits.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>How often the double looks for expired sessions (requests also look before they are served).</summary>
    public TimeSpan ExpiryScanInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The name of the only node the double knows; sessions are bound to it.</summary>
    public string NodeName { get; init; } = "consul-double";

    public string Datacenter { get; init; } = "dc1";
}

/// <summary>A session as the double holds it, for assertions.</summary>
public sealed record ConsulDoubleSession(
    string Id, string Name, string Node, string Behavior, TimeSpan Ttl, TimeSpan LockDelay,
    DateTimeOffset RenewedAt, long CreateIndex);

/// <summary>A key as the double holds it, for assertions.</summary>
public sealed record ConsulDoubleKey(
    string Key, byte[]? Value, ulong Flags, string? Session, long LockIndex, long CreateIndex, long ModifyIndex);

/// <summary>A service registered through the agent endpoint, with the JSON it was registered with.</summary>
public sealed record ConsulDoubleService(
    string Id, string Name, IReadOnlyList<string> Tags, string Address, int Port,
    IReadOnlyDictionary<string, string> Meta, string RegistrationJson);

/// <summary>
/// A TEST DOUBLE of Consul's documented HTTP API, not Consul: an in-process Kestrel server on 127.0.0.1 that
/// implements the parts a lease client uses (sessions with TTL, behaviors and lock-delay; KV with ?acquire,
/// ?release, ?cas, blocking queries; agent service registration; token ACLs) with Consul's status codes and
/// error texts. There is no Raft, no gossip, no health checking beyond an always-passing serfHealth, and one
/// datacenter; a single counter stands in for the Raft index. Contract tests that must prove behaviour
/// against the real thing run against a real Consul (PGHA_TEST_CONSUL).
/// </summary>
public sealed class ConsulDouble : IAsyncDisposable
{
    private const string SerfHealth = "serfHealth";
    private static readonly TimeSpan MinSessionTtl = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxSessionTtl = TimeSpan.FromHours(24);
    private static readonly TimeSpan MaxLockDelay = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DefaultLockDelay = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan DefaultBlockingWait = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MaxBlockingWait = TimeSpan.FromMinutes(10);

    private readonly ConsulDoubleOptions _options;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SessionState> _sessions = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    // Index of the last write that touched each key, deletions included, so blocking queries wake on deletes.
    private readonly Dictionary<string, long> _keyChangedAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lockDelayUntil = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ConsulDoubleService> _services = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = NewSignal();
    private long _raftIndex;
    private long _kvTableIndex;
    private long _sessionsTableIndex;
    private int _blockingQueriesWaiting;
    private ITimer? _expiryScan;
    private WebApplication? _app;
    private CancellationTokenSource _stopping = new();

    private ConsulDouble(ConsulDoubleOptions options)
    {
        if (options.ExpiryGraceFactor <= 0) throw new ArgumentOutOfRangeException(nameof(options), "ExpiryGraceFactor must be positive");
        _options = options;
        _clock = options.TimeProvider;
        Address = new Uri("http://127.0.0.1:0/");
    }

    /// <summary>Where the double listens: http://127.0.0.1:&lt;port chosen by the OS&gt;/.</summary>
    public Uri Address { get; private set; }

    /// <summary>The current Raft-like index; it grows with every write.</summary>
    public long Index { get { lock (_gate) return _raftIndex; } }

    /// <summary>How many blocking queries are parked waiting for a change, so tests can wait for one to park.</summary>
    public int BlockingQueriesWaiting => Volatile.Read(ref _blockingQueriesWaiting);

    public IReadOnlyList<ConsulDoubleSession> Sessions
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Values
                    .OrderBy(s => s.CreateIndex)
                    .Select(s => new ConsulDoubleSession(s.Id, s.Name, s.Node, s.Behavior, s.Ttl, s.LockDelay, s.RenewedAt, s.CreateIndex))
                    .ToList();
            }
        }
    }

    public IReadOnlyList<ConsulDoubleKey> Keys
    {
        get
        {
            lock (_gate)
            {
                return _keys.Values
                    .Select(k => new ConsulDoubleKey(k.Key, k.Value, k.Flags, k.Session, k.LockIndex, k.CreateIndex, k.ModifyIndex))
                    .ToList();
            }
        }
    }

    public IReadOnlyList<ConsulDoubleService> Services
    {
        get { lock (_gate) return _services.Values.OrderBy(s => s.Id, StringComparer.Ordinal).ToList(); }
    }

    /// <summary>Starts a double on a free loopback port.</summary>
    public static async Task<ConsulDouble> StartAsync(ConsulDoubleOptions? options = null, CancellationToken cancellationToken = default)
    {
        var consul = new ConsulDouble(options ?? new ConsulDoubleOptions());
        await consul.ListenAsync(port: 0, cancellationToken);
        var interval = consul._options.ExpiryScanInterval;
        consul._expiryScan = consul._clock.CreateTimer(_ => consul.ScanForExpiredSessions(), null, interval, interval);
        return consul;
    }

    /// <summary>
    /// Invalidates a session as if its TTL had passed: its keys are released or deleted per its Behavior and
    /// lock-delay starts. Returns false when no such session exists.
    /// </summary>
    public bool ExpireSessionNow(string id)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(id, out var session)) return false;
            InvalidateLocked(session);
            return true;
        }
    }

    /// <summary>
    /// Closes the listener: clients get connection refused and parked blocking queries are cut. State and the
    /// session clock keep going, as they would on a Consul the client can no longer reach.
    /// </summary>
    public async Task StopAsync()
    {
        var app = _app;
        if (app is null) return;
        _app = null;
        await _stopping.CancelAsync();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Listens again on the same address after <see cref="StopAsync"/>, with the state it had.</summary>
    public async Task ResumeAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null) throw new InvalidOperationException("the Consul double is already listening");
        await ListenAsync(Address.Port, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_expiryScan is not null) await _expiryScan.DisposeAsync();
        await StopAsync();
        _stopping.Dispose();
    }

    private async Task ListenAsync(int port, CancellationToken cancellationToken)
    {
        _stopping.Dispose();
        _stopping = new CancellationTokenSource();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            // No file watchers on the content root: tests start many doubles.
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Use(RequireAclToken);
        MapEndpoints(app);
        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Address = new Uri(new Uri(bound), "/");
        _app = app;
    }

    private void MapEndpoints(WebApplication app)
    {
        app.MapPut("/v1/session/create", CreateSessionAsync);
        app.MapPut("/v1/session/renew/{id}", RenewSession);
        app.MapPut("/v1/session/destroy/{id}", DestroySession);
        app.MapGet("/v1/session/info/{id}", SessionInfo);
        app.MapGet("/v1/session/list", ListSessions);
        app.MapGet("/v1/session/node/{node}", ListNodeSessions);
        app.MapGet("/v1/kv/{**key}", GetKeyAsync);
        app.MapPut("/v1/kv/{**key}", PutKeyAsync);
        app.MapDelete("/v1/kv/{**key}", DeleteKey);
        app.MapPut("/v1/agent/service/register", RegisterServiceAsync);
        app.MapPut("/v1/agent/service/deregister/{id}", DeregisterService);
        app.MapGet("/v1/agent/services", ListServices);
        app.MapGet("/v1/status/leader", (HttpContext context) => WriteJson(context, JsonValue.Create("127.0.0.1:8300")));
    }

    private async Task RequireAclToken(HttpContext context, RequestDelegate next)
    {
        ScanForExpiredSessions();
        if (_options.AclToken is { } expected)
        {
            var token = PresentedToken(context.Request);
            // Consul treats a request without a token as the anonymous token (denied by default) and an
            // unknown token as an error of its own.
            if (string.IsNullOrEmpty(token))
            {
                await WriteError(context, StatusCodes.Status403Forbidden, "Permission denied");
                return;
            }
            if (!string.Equals(token, expected, StringComparison.Ordinal))
            {
                await WriteError(context, StatusCodes.Status403Forbidden, "ACL not found");
                return;
            }
        }
        await next(context);
    }

    private static string? PresentedToken(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Consul-Token", out var header) && !string.IsNullOrEmpty(header)) return header.ToString();
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return authorization["Bearer ".Length..].Trim();
        return request.Query.TryGetValue("token", out var query) ? query.ToString() : null;
    }

    // ---- sessions -------------------------------------------------------------------------------------

    private async Task CreateSessionAsync(HttpContext context)
    {
        var body = await ReadBodyAsync(context.Request);
        JsonElement request;
        try
        {
            request = body.Length == 0 ? default : JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException e)
        {
            await WriteError(context, StatusCodes.Status400BadRequest, $"Request decode failed: {e.Message}");
            return;
        }

        string name = "", node = _options.NodeName, behavior = "", ttlText = "";
        var lockDelay = DefaultLockDelay;
        List<string>? checks = null, nodeChecks = null, serviceChecks = null;
        if (request.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in request.EnumerateObject())
            {
                var value = property.Value;
                switch (property.Name.ToLowerInvariant())
                {
                    case "name": name = value.GetString() ?? ""; break;
                    case "node": node = string.IsNullOrEmpty(value.GetString()) ? _options.NodeName : value.GetString()!; break;
                    case "behavior": behavior = value.GetString() ?? ""; break;
                    case "ttl": ttlText = value.GetString() ?? ""; break;
                    case "lockdelay":
                        if (!TryReadLockDelay(value, out lockDelay))
                        {
                            await WriteError(context, StatusCodes.Status400BadRequest, $"Request decode failed: invalid LockDelay {value.GetRawText()}");
                            return;
                        }
                        break;
                    case "checks": checks = ReadStrings(value); break;
                    case "nodechecks": nodeChecks = ReadStrings(value); break;
                    case "servicechecks": serviceChecks = ReadServiceCheckIds(value); break;
                }
            }
        }

        // Consul ties a session to the node's serfHealth check unless the caller names its checks.
        if (checks is null && nodeChecks is null && serviceChecks is null) nodeChecks = [SerfHealth];
        var allNodeChecks = (nodeChecks ?? []).Concat(checks ?? []).Distinct(StringComparer.Ordinal).ToList();

        // The checks below follow Consul's Session.Apply and state store order; their errors come back as 500.
        if (behavior == "") behavior = "release";
        if (behavior is not ("release" or "delete"))
        {
            await WriteError(context, StatusCodes.Status500InternalServerError, $"Invalid Behavior setting '{behavior}'");
            return;
        }
        var ttl = TimeSpan.Zero;
        if (ttlText != "")
        {
            if (!TryParseGoDuration(ttlText, out ttl))
            {
                await WriteError(context, StatusCodes.Status500InternalServerError, $"Session TTL '{ttlText}' invalid: time: invalid duration \"{ttlText}\"");
                return;
            }
            if (ttl != TimeSpan.Zero && (ttl < MinSessionTtl || ttl > MaxSessionTtl))
            {
                await WriteError(context, StatusCodes.Status500InternalServerError,
                    $"Invalid Session TTL '{ttl.Ticks * 100}', must be between [10s=24h0m0s]");
                return;
            }
        }
        if (!string.Equals(node, _options.NodeName, StringComparison.Ordinal))
        {
            await WriteError(context, StatusCodes.Status500InternalServerError, "Missing node registration");
            return;
        }
        var missing = allNodeChecks.FirstOrDefault(c => c != SerfHealth) ?? serviceChecks?.FirstOrDefault();
        if (missing is not null)
        {
            await WriteError(context, StatusCodes.Status500InternalServerError, $"Missing check '{missing}' registration");
            return;
        }

        string id;
        lock (_gate)
        {
            var index = ++_raftIndex;
            id = Guid.NewGuid().ToString();
            _sessions[id] = new SessionState
            {
                Id = id,
                Name = name,
                Node = node,
                Behavior = behavior,
                TtlText = ttlText,
                Ttl = ttl,
                LockDelay = lockDelay,
                NodeChecks = allNodeChecks,
                RenewedAt = _clock.GetUtcNow(),
                CreateIndex = index,
            };
            _sessionsTableIndex = index;
        }
        await WriteJson(context, new JsonObject { ["ID"] = id });
    }

    private Task RenewSession(HttpContext context, string id)
    {
        JsonArray renewed;
        lock (_gate)
        {
            if (!_sessions.TryGetValue(id, out var session))
                return WriteError(context, StatusCodes.Status404NotFound, $"Session id '{id}' not found");
            // Renewal only resets the leader's timer in Consul; it is not a Raft write, so no index moves.
            session.RenewedAt = _clock.GetUtcNow();
            renewed = [SessionJson(session)];
        }
        return WriteJson(context, renewed);
    }

    private Task DestroySession(HttpContext context, string id)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(id, out var session)) InvalidateLocked(session);
        }
        return WriteJson(context, JsonValue.Create(true));
    }

    private Task SessionInfo(HttpContext context, string id) =>
        WriteSessions(context, s => s.Id == id);

    private Task ListSessions(HttpContext context) =>
        WriteSessions(context, _ => true);

    private Task ListNodeSessions(HttpContext context, string node) =>
        WriteSessions(context, s => s.Node == node);

    private Task WriteSessions(HttpContext context, Func<SessionState, bool> include)
    {
        JsonArray found;
        long index;
        lock (_gate)
        {
            found = [.. _sessions.Values.Where(include).OrderBy(s => s.CreateIndex).Select(SessionJson)];
            index = Math.Max(_sessionsTableIndex, 1);
        }
        SetReadHeaders(context, index);
        return WriteJson(context, found);
    }

    private void ScanForExpiredSessions()
    {
        lock (_gate)
        {
            var now = _clock.GetUtcNow();
            var expired = _sessions.Values
                .Where(s => s.Ttl > TimeSpan.Zero && now >= s.RenewedAt + s.Ttl * _options.ExpiryGraceFactor)
                .ToList();
            foreach (var session in expired) InvalidateLocked(session);
        }
    }

    // Destroy and expiry are the same invalidation in Consul: held keys are released or deleted in one Raft
    // write and lock-delay (capped at 60 s) starts for each of them.
    private void InvalidateLocked(SessionState session)
    {
        var index = ++_raftIndex;
        _sessions.Remove(session.Id);
        _sessionsTableIndex = index;
        var delay = session.LockDelay < MaxLockDelay ? session.LockDelay : MaxLockDelay;
        var now = _clock.GetUtcNow();
        var held = _keys.Values.Where(k => k.Session == session.Id).ToList();
        foreach (var key in held)
        {
            if (session.Behavior == "delete")
            {
                _keys.Remove(key.Key);
            }
            else
            {
                key.Session = null;
                key.ModifyIndex = index;
            }
            _keyChangedAt[key.Key] = index;
            if (delay > TimeSpan.Zero) _lockDelayUntil[key.Key] = now + delay;
        }
        if (held.Count > 0) _kvTableIndex = index;
        SignalChangeLocked();
    }

    private static JsonObject SessionJson(SessionState session) => new()
    {
        ["ID"] = session.Id,
        ["Name"] = session.Name,
        ["Node"] = session.Node,
        ["LockDelay"] = session.LockDelay.Ticks * 100,
        ["Behavior"] = session.Behavior,
        ["TTL"] = session.TtlText,
        ["NodeChecks"] = session.NodeChecks.Count == 0 ? null : new JsonArray([.. session.NodeChecks.Select(c => (JsonNode?)JsonValue.Create(c))]),
        ["ServiceChecks"] = null,
        ["CreateIndex"] = session.CreateIndex,
        ["ModifyIndex"] = session.CreateIndex,
    };

    // ---- key/value ------------------------------------------------------------------------------------

    private async Task GetKeyAsync(HttpContext context, string? key)
    {
        key ??= "";
        var query = context.Request.Query;
        var recurse = query.ContainsKey("recurse");
        var blocking = false;
        ulong minIndex = 0;
        var wait = DefaultBlockingWait;
        if (query.TryGetValue("index", out var indexText))
        {
            if (!ulong.TryParse(indexText, NumberStyles.None, CultureInfo.InvariantCulture, out minIndex))
            {
                await WriteError(context, StatusCodes.Status400BadRequest, "Invalid index");
                return;
            }
            blocking = minIndex > 0;
        }
        if (query.TryGetValue("wait", out var waitText))
        {
            if (!TryParseGoDuration(waitText.ToString(), out wait) || wait < TimeSpan.Zero)
            {
                await WriteError(context, StatusCodes.Status400BadRequest, "Invalid wait time");
                return;
            }
            if (wait > MaxBlockingWait) wait = MaxBlockingWait;
        }
        var deadline = _clock.GetUtcNow() + wait;

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var timedOut = false;
        while (true)
        {
            List<ConsulDoubleKey> found;
            long tableIndex, lastChange;
            Task changed;
            lock (_gate)
            {
                tableIndex = Math.Max(_kvTableIndex, 1);
                found = _keys.Values
                    .Where(k => recurse ? k.Key.StartsWith(key, StringComparison.Ordinal) : k.Key == key)
                    .Select(k => new ConsulDoubleKey(k.Key, k.Value, k.Flags, k.Session, k.LockIndex, k.CreateIndex, k.ModifyIndex))
                    .ToList();
                lastChange = LastChangeLocked(key, recurse);
                changed = _changed.Task;
            }

            // Consul's blocking loop: answer as soon as the table index passed the client's, else park until
            // this key (or prefix) changes or the wait runs out.
            if (!blocking || (ulong)tableIndex > minIndex || timedOut)
            {
                await WriteKeysAsync(context, found, tableIndex, raw: query.ContainsKey("raw") && !recurse);
                return;
            }

            Interlocked.Increment(ref _blockingQueriesWaiting);
            try
            {
                while (true)
                {
                    var remaining = deadline - _clock.GetUtcNow();
                    if (remaining <= TimeSpan.Zero) { timedOut = true; break; }
                    using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
                    var delay = Task.Delay(remaining, _clock, delayCancel.Token);
                    await Task.WhenAny(changed, delay);
                    await delayCancel.CancelAsync();
                    cancel.Token.ThrowIfCancellationRequested();
                    lock (_gate)
                    {
                        if (LastChangeLocked(key, recurse) != lastChange) break;
                        changed = _changed.Task;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Either the client left or the double is stopping; a stopped Consul sends nothing back.
                context.Abort();
                return;
            }
            finally
            {
                Interlocked.Decrement(ref _blockingQueriesWaiting);
            }
        }
    }

    private static async Task WriteKeysAsync(HttpContext context, List<ConsulDoubleKey> found, long tableIndex, bool raw)
    {
        SetReadHeaders(context, tableIndex);
        if (found.Count == 0)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (raw)
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.Body.WriteAsync(found[0].Value ?? []);
            return;
        }
        JsonArray entries = [.. found.Select(k =>
        {
            var entry = new JsonObject
            {
                ["LockIndex"] = k.LockIndex,
                ["Key"] = k.Key,
                ["Flags"] = k.Flags,
                ["Value"] = k.Value is null ? null : Convert.ToBase64String(k.Value),
            };
            if (k.Session is not null) entry["Session"] = k.Session;
            entry["CreateIndex"] = k.CreateIndex;
            entry["ModifyIndex"] = k.ModifyIndex;
            return (JsonNode?)entry;
        })];
        await WriteJson(context, entries);
    }

    private long LastChangeLocked(string key, bool recurse) =>
        recurse
            ? _keyChangedAt.Where(c => c.Key.StartsWith(key, StringComparison.Ordinal)).Select(c => c.Value).DefaultIfEmpty(0).Max()
            : _keyChangedAt.GetValueOrDefault(key);

    private async Task PutKeyAsync(HttpContext context, string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            await WriteError(context, StatusCodes.Status400BadRequest, "Missing key name");
            return;
        }
        var query = context.Request.Query;
        ulong flags = 0, cas = 0;
        if (query.TryGetValue("flags", out var flagsText) && !TryParseUnsigned(flagsText, out flags))
        {
            await WriteError(context, StatusCodes.Status500InternalServerError, $"strconv.ParseUint: parsing \"{flagsText}\": invalid syntax");
            return;
        }
        var hasCas = query.TryGetValue("cas", out var casText);
        if (hasCas && !TryParseUnsigned(casText, out cas))
        {
            await WriteError(context, StatusCodes.Status500InternalServerError, $"strconv.ParseUint: parsing \"{casText}\": invalid syntax");
            return;
        }
        var body = await ReadBodyAsync(context.Request);
        // Go hands Consul a nil slice for an empty body, which it stores and shows as "Value": null.
        var value = body.Length == 0 ? null : body;

        bool written;
        string? error = null;
        lock (_gate)
        {
            // As in Consul's HTTP handler, ?acquire and ?release take precedence over ?cas.
            if (query.TryGetValue("acquire", out var acquire))
                written = AcquireLocked(key, acquire.ToString(), value, flags, out error);
            else if (query.TryGetValue("release", out var release))
                written = ReleaseLocked(key, release.ToString(), value, flags, out error);
            else if (hasCas)
                written = CheckAndSetLocked(key, cas, value, flags);
            else
                written = SetLocked(key, value, flags);
        }
        if (error is not null)
        {
            await WriteError(context, StatusCodes.Status500InternalServerError, error);
            return;
        }
        await WriteJson(context, JsonValue.Create(written));
    }

    private bool AcquireLocked(string key, string sessionId, byte[]? value, ulong flags, out string? error)
    {
        error = null;
        if (sessionId == "")
        {
            error = "missing session";
            return false;
        }
        // Consul enforces lock-delay on the leader before the write reaches Raft, so a refusal moves no index.
        if (_lockDelayUntil.TryGetValue(key, out var until))
        {
            if (_clock.GetUtcNow() < until) return false;
            _lockDelayUntil.Remove(key);
        }
        var index = ++_raftIndex;
        if (!_sessions.ContainsKey(sessionId))
        {
            error = $"invalid session \"{sessionId}\"";
            return false;
        }
        if (_keys.TryGetValue(key, out var existing))
        {
            if (existing.Session is not null && existing.Session != sessionId) return false;
            // The holder re-acquiring only updates the value; a new holder bumps LockIndex.
            if (existing.Session is null) existing.LockIndex++;
            existing.Session = sessionId;
            existing.Value = value;
            existing.Flags = flags;
            existing.ModifyIndex = index;
        }
        else
        {
            _keys[key] = new KeyState { Key = key, Value = value, Flags = flags, Session = sessionId, LockIndex = 1, CreateIndex = index, ModifyIndex = index };
        }
        KeyChangedLocked(key, index);
        return true;
    }

    private bool ReleaseLocked(string key, string sessionId, byte[]? value, ulong flags, out string? error)
    {
        error = null;
        if (sessionId == "")
        {
            error = "missing session";
            return false;
        }
        var index = ++_raftIndex;
        if (!_keys.TryGetValue(key, out var existing) || existing.Session != sessionId) return false;
        // Releasing writes the request body as the new value, like any other KV write, and keeps LockIndex.
        existing.Session = null;
        existing.Value = value;
        existing.Flags = flags;
        existing.ModifyIndex = index;
        KeyChangedLocked(key, index);
        return true;
    }

    private bool CheckAndSetLocked(string key, ulong cas, byte[]? value, ulong flags)
    {
        var index = ++_raftIndex;
        var exists = _keys.TryGetValue(key, out var existing);
        if (cas == 0 ? exists : !exists || (ulong)existing!.ModifyIndex != cas) return false;
        WriteLocked(key, value, flags, index);
        return true;
    }

    private bool SetLocked(string key, byte[]? value, ulong flags)
    {
        WriteLocked(key, value, flags, ++_raftIndex);
        return true;
    }

    // A plain write keeps whoever holds the lock, as Consul does.
    private void WriteLocked(string key, byte[]? value, ulong flags, long index)
    {
        if (_keys.TryGetValue(key, out var existing))
        {
            existing.Value = value;
            existing.Flags = flags;
            existing.ModifyIndex = index;
        }
        else
        {
            _keys[key] = new KeyState { Key = key, Value = value, Flags = flags, CreateIndex = index, ModifyIndex = index };
        }
        KeyChangedLocked(key, index);
    }

    private Task DeleteKey(HttpContext context, string? key)
    {
        key ??= "";
        var query = context.Request.Query;
        var recurse = query.ContainsKey("recurse");
        if (key == "" && !recurse) return WriteError(context, StatusCodes.Status400BadRequest, "Missing key name");
        ulong cas = 0;
        var hasCas = query.TryGetValue("cas", out var casText);
        if (hasCas && !TryParseUnsigned(casText, out cas))
            return WriteError(context, StatusCodes.Status500InternalServerError, $"strconv.ParseUint: parsing \"{casText}\": invalid syntax");

        bool deleted;
        lock (_gate)
        {
            var index = ++_raftIndex;
            if (recurse)
            {
                foreach (var doomed in _keys.Keys.Where(k => k.StartsWith(key, StringComparison.Ordinal)).ToList())
                {
                    _keys.Remove(doomed);
                    KeyChangedLocked(doomed, index);
                }
                deleted = true;
            }
            else if (hasCas)
            {
                // Consul answers true for a CAS delete of a key that is already gone.
                if (!_keys.TryGetValue(key, out var existing)) deleted = true;
                else if ((ulong)existing.ModifyIndex != cas) deleted = false;
                else
                {
                    _keys.Remove(key);
                    KeyChangedLocked(key, index);
                    deleted = true;
                }
            }
            else
            {
                if (_keys.Remove(key)) KeyChangedLocked(key, index);
                deleted = true;
            }
        }
        return WriteJson(context, JsonValue.Create(deleted));
    }

    private void KeyChangedLocked(string key, long index)
    {
        _keyChangedAt[key] = index;
        _kvTableIndex = index;
        SignalChangeLocked();
    }

    private void SignalChangeLocked()
    {
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---- agent services -------------------------------------------------------------------------------

    private async Task RegisterServiceAsync(HttpContext context)
    {
        var body = await ReadBodyAsync(context.Request);
        JsonElement registration;
        try
        {
            registration = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException e)
        {
            await WriteError(context, StatusCodes.Status400BadRequest, $"Request decode failed: {e.Message}");
            return;
        }
        string? id = null, name = null, address = "";
        var port = 0;
        var tags = new List<string>();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (registration.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in registration.EnumerateObject())
            {
                var value = property.Value;
                switch (property.Name.ToLowerInvariant())
                {
                    case "id": id = value.GetString(); break;
                    case "name": name = value.GetString(); break;
                    case "address": address = value.GetString() ?? ""; break;
                    case "port": port = value.GetInt32(); break;
                    case "tags": tags = ReadStrings(value) ?? []; break;
                    case "meta" when value.ValueKind == JsonValueKind.Object:
                        foreach (var pair in value.EnumerateObject()) meta[pair.Name] = pair.Value.GetString() ?? "";
                        break;
                }
            }
        }
        if (string.IsNullOrEmpty(name))
        {
            await WriteError(context, StatusCodes.Status400BadRequest, "Missing service name");
            return;
        }
        if (string.IsNullOrEmpty(id)) id = name;
        lock (_gate)
        {
            ++_raftIndex;
            _services[id] = new ConsulDoubleService(id, name, tags, address, port, meta, Encoding.UTF8.GetString(body));
        }
    }

    private Task DeregisterService(HttpContext context, string id)
    {
        lock (_gate)
        {
            if (!_services.Remove(id))
                return WriteError(context, StatusCodes.Status404NotFound,
                    $"Unknown service ID \"{id}\". Ensure that the service ID is passed, not the service name.");
            ++_raftIndex;
        }
        return Task.CompletedTask;
    }

    private Task ListServices(HttpContext context)
    {
        var services = new JsonObject();
        lock (_gate)
        {
            foreach (var service in _services.Values.OrderBy(s => s.Id, StringComparer.Ordinal))
            {
                var meta = new JsonObject();
                foreach (var (name, value) in service.Meta) meta[name] = value;
                services[service.Id] = new JsonObject
                {
                    ["ID"] = service.Id,
                    ["Service"] = service.Name,
                    ["Tags"] = new JsonArray([.. service.Tags.Select(t => (JsonNode?)JsonValue.Create(t))]),
                    ["Meta"] = meta,
                    ["Port"] = service.Port,
                    ["Address"] = service.Address,
                    ["Weights"] = new JsonObject { ["Passing"] = 1, ["Warning"] = 1 },
                    ["EnableTagOverride"] = false,
                    ["Datacenter"] = _options.Datacenter,
                };
            }
        }
        return WriteJson(context, services);
    }

    // ---- HTTP plumbing --------------------------------------------------------------------------------

    private static void SetReadHeaders(HttpContext context, long index)
    {
        context.Response.Headers["X-Consul-Index"] = index.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-Consul-KnownLeader"] = "true";
        context.Response.Headers["X-Consul-LastContact"] = "0";
    }

    private static Task WriteJson(HttpContext context, JsonNode? body)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body?.ToJsonString() ?? "null");
    }

    // Consul answers errors with a bare text/plain reason, no JSON envelope.
    private static Task WriteError(HttpContext context, int status, string reason)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(reason);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        return buffer.ToArray();
    }

    private static bool TryParseUnsigned(Microsoft.Extensions.Primitives.StringValues text, out ulong value) =>
        ulong.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static List<string>? ReadStrings(JsonElement value) =>
        value.ValueKind == JsonValueKind.Array ? [.. value.EnumerateArray().Select(e => e.GetString() ?? "")] : null;

    private static List<string>? ReadServiceCheckIds(JsonElement value) =>
        value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("ID", out var id) ? id.GetString() ?? "" : "")]
            : null;

    // Consul reads LockDelay as a Go duration string, or as a number: seconds below 1000, nanoseconds above.
    private static bool TryReadLockDelay(JsonElement value, out TimeSpan delay)
    {
        delay = DefaultLockDelay;
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return TryParseGoDuration(value.GetString()!, out delay);
            case JsonValueKind.Number when value.TryGetInt64(out var number):
                delay = number < 1000 ? TimeSpan.FromSeconds(number) : TimeSpan.FromTicks(number / 100);
                return true;
            case JsonValueKind.Null:
                return true;
            default:
                return false;
        }
    }

    /// <summary>Parses Go's time.ParseDuration syntax ("15s", "1m30s", "500ms", "0"), which Consul uses for TTL, LockDelay and wait.</summary>
    internal static bool TryParseGoDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var rest = text.AsSpan();
        var negative = false;
        if (!rest.IsEmpty && rest[0] is '-' or '+')
        {
            negative = rest[0] == '-';
            rest = rest[1..];
        }
        if (rest.SequenceEqual("0")) return true;
        if (rest.IsEmpty) return false;
        decimal nanoseconds = 0;
        while (!rest.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < rest.Length && (char.IsAsciiDigit(rest[numberLength]) || rest[numberLength] == '.')) numberLength++;
            if (numberLength == 0 || !decimal.TryParse(rest[..numberLength], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            rest = rest[numberLength..];
            var unitLength = 0;
            while (unitLength < rest.Length && !char.IsAsciiDigit(rest[unitLength]) && rest[unitLength] != '.') unitLength++;
            decimal scale = rest[..unitLength] switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => 0m,
            };
            if (scale == 0m) return false;
            nanoseconds += number * scale;
            rest = rest[unitLength..];
        }
        var ticks = (long)decimal.Round(nanoseconds / 100m);
        duration = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    private sealed class SessionState
    {
        public required string Id { get; init; }
        public required string Name { get; init; }
        public required string Node { get; init; }
        public required string Behavior { get; init; }
        public required string TtlText { get; init; }
        public required TimeSpan Ttl { get; init; }
        public required TimeSpan LockDelay { get; init; }
        public required List<string> NodeChecks { get; init; }
        public required long CreateIndex { get; init; }
        public DateTimeOffset RenewedAt { get; set; }
    }

    private sealed class KeyState
    {
        public required string Key { get; init; }
        public byte[]? Value { get; set; }
        public ulong Flags { get; set; }
        public string? Session { get; set; }
        public long LockIndex { get; set; }
        public long CreateIndex { get; init; }
        public long ModifyIndex { get; set; }
    }
}
