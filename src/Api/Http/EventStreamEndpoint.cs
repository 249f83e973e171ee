using System.Globalization;
using System.Text;
using System.Text.Json;
using HA.Projections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace HA.Api.Http;

/// <summary>
/// <c>GET /api/v1/events/stream</c>: the cluster's events as Server-Sent Events, in stream order, each
/// with <c>id: &lt;stream version&gt;</c> and the event's JSON (as <c>GET /api/v1/events</c> shows it) as
/// <c>data</c>. It starts after the version in the <c>Last-Event-ID</c> header (what a reconnecting client
/// sends), else after <c>?since_version=</c>, else at the end (only new events). It is woken by the
/// witness store's notifications, polls every <see cref="PollEvery"/> in case one was lost, and sends a
/// comment every <see cref="KeepAliveEvery"/> so proxies keep the connection open.
/// </summary>
public static class EventStreamEndpoint
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan KeepAliveEvery = TimeSpan.FromSeconds(15);

    public static void Map(WebApplication app, ApiContext context)
    {
        var changes = new WitnessChangeSignal(context.Config.Witness, context.Config.Cluster);
        context.Witness.Changed += changes.OnAppendedHere;
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            context.Witness.Changed -= changes.OnAppendedHere;
            changes.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
        app.MapGet("/api/v1/events/stream", (HttpContext http) => StreamAsync(http, context, changes, app.Lifetime.ApplicationStopping));
    }

    /// <summary>Where a stream starts: after Last-Event-ID when the client sends one, else after ?since_version=, else null (at the end).</summary>
    public static long? StartAfter(string? lastEventId, string? sinceVersion)
    {
        if (!string.IsNullOrWhiteSpace(lastEventId))
        {
            if (!long.TryParse(lastEventId.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var last))
                throw new BadParameter("Last-Event-ID", $"Last-Event-ID '{lastEventId}' is not a stream version (a whole number); reconnect without it, or with ?since_version=N");
            return last;
        }
        return ReadQuery.Integer("since_version", sinceVersion, 0, long.MaxValue);
    }

    /// <summary>One event as Server-Sent Events frame it: its version as id, its JSON on one data line, a blank line.</summary>
    public static string Frame(EventView view) =>
        $"id: {view.Version.ToString(CultureInfo.InvariantCulture)}\ndata: {JsonSerializer.Serialize(view, ReadJson.Options)}\n\n";

    private static async Task StreamAsync(HttpContext http, ApiContext context, WitnessChangeSignal changes, CancellationToken stopping)
    {
        if (ApiAuthorization.Refusal(context, http.Request, change: false) is { } refusal)
        {
            await refusal.ExecuteAsync(http);
            return;
        }
        long after;
        try
        {
            var start = StartAfter(http.Request.Headers["Last-Event-ID"], http.Request.Query["since_version"]);
            after = start ?? await context.Witness.VersionAsync(context.Config.Cluster, http.RequestAborted);
        }
        catch (BadParameter e)
        {
            await ApiProblems.BadParameter(e.Parameter, e.Message).ExecuteAsync(http);
            return;
        }
        catch (NpgsqlException e)
        {
            await ApiProblems.Unavailable("the witness store cannot be read",
                $"{e.GetBaseException().Message}; check that the witness PostgreSQL runs, or ask another node").ExecuteAsync(http);
            return;
        }

        using var ending = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        var cancellationToken = ending.Token;
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        try
        {
            // Headers and a first comment at once: the client knows the stream is open before any event.
            await WriteAsync(http, $": pgha event stream of cluster {context.Config.Cluster}, after version {after.ToString(CultureInfo.InvariantCulture)}\nretry: 2000\n\n", cancellationToken);
            var lastWrite = DateTimeOffset.UtcNow;
            while (!cancellationToken.IsCancellationRequested)
            {
                var woken = changes.Next; // taken before reading, so that an append during the read still wakes the wait
                HistoryPage page;
                try
                {
                    page = await context.Witness.EventsAsync(context.Config.Cluster, new HistoryFilter { AfterVersion = after, Limit = WitnessStore.MaxPageSize }, cancellationToken);
                }
                catch (Exception e) when (e is NpgsqlException or UnknownClusterError)
                {
                    // The witness is away for a moment: say so as a comment and try again on the next poll.
                    await WriteAsync(http, $": witness store unreadable: {OneLine(e.GetBaseException().Message)}\n\n", cancellationToken);
                    page = new HistoryPage([], null);
                }
                if (page.Events.Count > 0)
                {
                    var text = new StringBuilder();
                    foreach (var e in page.Events) text.Append(Frame(ReadJson.Event(e)));
                    await WriteAsync(http, text.ToString(), cancellationToken);
                    after = page.Events[^1].Version;
                    lastWrite = DateTimeOffset.UtcNow;
                    if (page.NextAfterVersion is not null) continue; // more already there
                }
                else if (DateTimeOffset.UtcNow - lastWrite >= KeepAliveEvery)
                {
                    await WriteAsync(http, ": keep-alive\n\n", cancellationToken);
                    lastWrite = DateTimeOffset.UtcNow;
                }
                await Task.WhenAny(woken, Task.Delay(PollEvery, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away, or this node is stopping: the client reconnects with its Last-Event-ID.
        }
        catch (IOException)
        {
            // The connection broke under the write.
        }
    }

    private static async Task WriteAsync(HttpContext http, string text, CancellationToken cancellationToken)
    {
        await http.Response.WriteAsync(text, cancellationToken);
        await http.Response.Body.FlushAsync(cancellationToken);
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}

/// <summary>
/// Wakes the event streams of one cluster when the witness store records an append: appends made in this
/// process at once, appends by other processes through one shared LISTEN connection (restarted after a
/// pause when it breaks). The streams poll as well, so a lost notification only delays an event.
/// </summary>
internal sealed class WitnessChangeSignal : IAsyncDisposable
{
    private static readonly TimeSpan RetryListenAfter = TimeSpan.FromSeconds(5);

    private readonly WitnessStoreOptions _options;
    private readonly string _cluster;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private TaskCompletionSource _next = NewSignal();
    private Task? _loop;

    public WitnessChangeSignal(WitnessStoreOptions options, string cluster)
    {
        _options = options;
        _cluster = cluster;
    }

    /// <summary>Completes at the next append to the cluster (the listener starts with the first stream).</summary>
    public Task Next
    {
        get
        {
            lock (_gate)
            {
                _loop ??= Task.Run(() => ListenAsync(_stop.Token));
                return _next.Task;
            }
        }
    }

    public void OnAppendedHere(ClusterChanged change)
    {
        if (change.Cluster == _cluster) Wake();
    }

    private void Wake()
    {
        TaskCompletionSource woken;
        lock (_gate)
        {
            woken = _next;
            _next = NewSignal();
        }
        woken.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ListenAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var listener = await WitnessChangeListener.StartAsync(_options, stop);
                await foreach (var change in listener.Changes.ReadAllAsync(stop))
                {
                    if (change.Cluster == _cluster) Wake();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or System.Threading.Channels.ChannelClosedException)
            {
                // The witness went away: the streams keep polling; listen again in a while.
            }
            try { await Task.Delay(RetryListenAfter, stop); }
            catch (OperationCanceledException) { return; }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task? loop;
        lock (_gate) loop = _loop;
        if (loop is not null)
        {
            try { await loop; }
            catch (OperationCanceledException) { }
        }
        _stop.Dispose();
    }
}
