using System.Globalization;
using HA.Api.Config;
using HA.Api.Operations;
using HA.Api.Run;
using HA.Core.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace HA.Api.Http;

/// <summary>
/// The changes under /api/v1 (docs/api.md "Changes"): each needs the bearer token, records one event
/// naming who asked (<c>user api:token@ADDRESS</c>) through the same operation the CLI reaches, and
/// answers a problem detail — nothing recorded — when it is refused.
/// </summary>
public static class ChangeEndpoints
{
    private static readonly string[] Reason = ["reason"];

    public static void Map(WebApplication app, ApiContext context)
    {
        var v1 = app.MapGroup("/api/v1");
        v1.MapPost("/cluster/pause", (HttpRequest r, CancellationToken c) => Request(context, r, "pause", null, c));
        v1.MapPost("/cluster/resume", (HttpRequest r, CancellationToken c) => Request(context, r, "resume", null, c));
        foreach (var verb in (string[])["detach", "attach", "reinitialize"])
            v1.MapPost($"/nodes/{{name}}/{verb}", (string name, HttpRequest r, CancellationToken c) => Request(context, r, verb, name, c));

        v1.MapPost("/cluster/switchover", (HttpRequest r, CancellationToken c) => Change(context, r, ["to", "at"], async (body, by) =>
        {
            var at = body.String("at") is { } when ? Time(when) : (DateTimeOffset?)null;
            var recorded = await SwitchoverRequest.RecordAsync(context.Witness, context.Config, body.RequiredString("to"), at, by, c);
            var id = recorded.Request.SwitchoverId;
            if (recorded.Scheduled || Wait(r) is not { } wait)
                return Accepted(id, recorded.Scheduled ? "scheduled" : "requested", recorded.State.Version, SwitchoverRequest.Describe(recorded));
            return Outcome(await SwitchoverRequest.OutcomeAsync(context.Witness, context.Config.Cluster, id, wait, c), recorded.State.Version);
        }, c));
        v1.MapDelete("/cluster/switchover", (HttpRequest r, CancellationToken c) => Change(context, r, [], async (_, by) =>
        {
            var (cancelled, state) = await SwitchoverRequest.CancelAsync(context.Witness, context.Config.Cluster, by, c);
            return Results.Ok(new
            {
                id = cancelled.Id,
                status = "cancelled",
                version = state.Version,
                message = $"cluster {state.Cluster}: switchover {cancelled.Id} from {cancelled.From} to {cancelled.To} cancelled",
            });
        }, c));

        v1.MapPost("/cluster/restart", (HttpRequest r, CancellationToken c) => Change(context, r, Reason, async (body, by) =>
        {
            var (requested, state) = await RollingRestartRequest.RecordAsync(context.Witness, context.Config.Cluster, body.String("reason"), by, c);
            if (Wait(r) is not { } wait) return Accepted(requested.RestartId, "requested", state.Version, RollingRestartRequest.Describe(requested, state));
            return Outcome(await RollingRestartRequest.OutcomeAsync(context.Witness, state.Cluster, requested.RestartId, wait, c), state.Version);
        }, c));
        v1.MapDelete("/cluster/restart", (HttpRequest r, CancellationToken c) => Change(context, r, [], async (_, by) =>
        {
            var (cancelled, state) = await RollingRestartRequest.CancelAsync(context.Witness, context.Config.Cluster, by, c);
            return Results.Ok(new { id = cancelled.RestartId, status = "cancelled", version = state.Version, message = $"cluster {state.Cluster}: rolling restart {cancelled.RestartId} cancelled after its step under way" });
        }, c));

        v1.MapPost("/cluster/failover", (HttpRequest r, CancellationToken c) => Change(context, r, ["to", "allow_data_loss", "force"], (body, by) =>
            Failover(context, r, body.RequiredString("to"), body.Boolean("allow_data_loss"), body.Boolean("force"), by, c), c));
        v1.MapPost("/nodes/{name}/promote", (string name, HttpRequest r, CancellationToken c) => Change(context, r, ["allow_data_loss", "force", "reason"], (body, by) =>
            Failover(context, r, name, body.Boolean("allow_data_loss"), body.Boolean("force"), by, c), c));

        v1.MapGet("/cluster/postgresql", async (HttpRequest r, CancellationToken c) =>
        {
            if (ApiAuthorization.Refusal(context, r, change: false) is { } refused) return refused;
            try
            {
                return Results.Ok(ParameterChange.View(await context.Witness.StateAsync(context.Config.Cluster, c)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return ApiProblems.From(e);
            }
        });
        v1.MapPatch("/cluster/postgresql", (HttpRequest r, CancellationToken c) => Change(context, r, null, async (body, by) =>
        {
            var requested = new List<KeyValuePair<string, string?>>();
            string? reason = null;
            foreach (var p in body.Root.EnumerateObject())
            {
                if (p.Name == "reason" && p.Value.ValueKind == System.Text.Json.JsonValueKind.String) { reason = p.Value.GetString(); continue; }
                requested.Add(new(p.Name, p.Value.ValueKind switch
                {
                    System.Text.Json.JsonValueKind.String => p.Value.GetString(),
                    System.Text.Json.JsonValueKind.Number => p.Value.GetRawText(),
                    System.Text.Json.JsonValueKind.True => "on",
                    System.Text.Json.JsonValueKind.False => "off",
                    System.Text.Json.JsonValueKind.Null => null,
                    _ => throw new RequestBodyError($"'{p.Name}' must be a string, a number, true, false or null (to reset it)"),
                }));
            }
            if (requested.Count == 0) throw new RequestBodyError("the body names no parameter; send {\"work_mem\": \"64MB\"}");
            return Parameters(await ParameterChange.RecordAsync(context.Witness, context.Config, requested, reason, by, c));
        }, c));
        v1.MapDelete("/cluster/postgresql/{name}", (string name, HttpRequest r, CancellationToken c) => Change(context, r, Reason, async (body, by) =>
            Parameters(await ParameterChange.RecordAsync(context.Witness, context.Config, [new(name, null)], body.String("reason"), by, c)), c));

        v1.MapDelete("/members/{name}", (string name, HttpRequest r, CancellationToken c) => Change(context, r, ["reason", "force"], async (body, by) =>
        {
            var (left, state) = await MembershipChange.RemoveAsync(context.Witness, context.Config.Cluster, name, body.String("reason"), body.Boolean("force"), by, c);
            return Results.Ok(new { cluster = state.Cluster, version = state.Version, removed = left.Node, members = state.Nodes.Keys, message = MembershipChange.DescribeRemoval(left, state) });
        }, c));
        v1.MapPost("/members", (HttpRequest r, CancellationToken c) => Change(context, r, ["name", "host", "port", "gossip_port", "failover_priority", "nofailover", "reason"], async (body, by) =>
        {
            var spec = new NodeSpec(body.RequiredString("name"), body.RequiredString("host"), body.Integer("port", 1, 65535) ?? throw new RequestBodyError("'port' is required"),
                body.Integer("failover_priority", int.MinValue, int.MaxValue) ?? 0, body.Boolean("nofailover"), body.Integer("gossip_port", 1, 65535) ?? MemberConfig.DefaultGossipPort);
            body.String("reason"); // accepted for the caller's records (type-checked); NodeJoined has no reason of its own
            var (joined, state) = await ClusterMembership.RecordJoinAsync(context.Witness, context.Config.Cluster, spec, by, c);
            return Results.Ok(new { cluster = state.Cluster, version = state.Version, joined, member = spec.Name, message = MembershipChange.DescribeAdd(spec, joined, state) });
        }, c));

        v1.MapPost("/control/reload", (HttpRequest r, CancellationToken c) => Change(context, r, [], (_, _) => Task.FromResult(ConfigReload.Run(context)), c));
    }

    /// <summary>pause, resume, detach, attach, reinitialize: one event each, body {"reason"} optional.</summary>
    private static Task<IResult> Request(ApiContext context, HttpRequest request, string verb, string? node, CancellationToken cancellationToken) =>
        Change(context, request, verb == "attach" ? [] : Reason, async (body, by) =>
        {
            var change = OperatorRequests.Event(verb, node, body.String("reason"), by);
            var state = await OperatorRequests.RecordAsync(context.Witness, context.Config.Cluster, change, cancellationToken);
            return Results.Ok(new { cluster = state.Cluster, version = state.Version, message = OperatorRequests.Describe(change, state) });
        }, cancellationToken);

    private static async Task<IResult> Failover(ApiContext context, HttpRequest request, string to, bool allowDataLoss, bool force, Initiator by, CancellationToken cancellationToken)
    {
        var (requested, state) = await FailoverRequest.RecordAsync(context.Witness, context.Config.Cluster, to, allowDataLoss, force, by, cancellationToken);
        var message = $"cluster {state.Cluster}: failover {requested.RequestId} to {to} requested";
        if (Wait(request) is not { } wait) return Accepted(requested.RequestId, "requested", state.Version, message);
        return Outcome(await FailoverRequest.OutcomeAsync(context.Witness, state.Cluster, requested, state.Version, wait, cancellationToken), state.Version);
    }

    private static IResult Parameters(ParameterChange.Result result) => Results.Ok(new
    {
        cluster = result.State?.Cluster,
        changed = result.State is not null,
        parameters_version = result.State?.ParametersVersion,
        version = result.State?.Version,
        checked_against = result.Member,
        changes = result.Plan.Changes,
        pending_restart = result.Plan.PendingRestart,
        message = result.Message,
    });

    /// <summary>Authorizes, reads the body, runs <paramref name="act"/> and turns a refusal into its problem detail.</summary>
    private static async Task<IResult> Change(ApiContext context, HttpRequest request, IReadOnlyCollection<string>? fields, Func<RequestBody, Initiator, Task<IResult>> act, CancellationToken cancellationToken)
    {
        if (ApiAuthorization.Refusal(context, request, change: true) is { } refused) return refused;
        try
        {
            Wait(request); // a malformed ?wait= is refused before anything is done
            var body = await RequestBody.ReadAsync(request, fields, cancellationToken);
            return await act(body, Initiator.User(ApiAuthorization.Caller(request)));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return ApiProblems.From(e);
        }
    }

    private static IResult Accepted(string id, string status, long version, string message) =>
        Results.Json(new { id, status, version, message }, statusCode: StatusCodes.Status202Accepted);

    /// <summary>completed: 200; failed: 409 with the reason; still running when the wait ended: 202.</summary>
    private static IResult Outcome(OperationOutcome outcome, long version) => outcome.Status switch
    {
        "completed" => Results.Ok(new { id = outcome.Id, status = outcome.Status, version, message = outcome.Message }),
        "failed" => ApiProblems.Problem(StatusCodes.Status409Conflict, "failed", outcome.Message),
        _ => Accepted(outcome.Id, outcome.Status, version, outcome.Message),
    };

    /// <summary>?wait=DURATION: how long to wait for a switchover's or failover's outcome before answering (at most 10 minutes).</summary>
    private static TimeSpan? Wait(HttpRequest request)
    {
        if (request.Query["wait"].ToString() is not { Length: > 0 } text) return null;
        return PghaConfig.ParseDuration(text) is { } span && span > TimeSpan.Zero && span <= TimeSpan.FromMinutes(10)
            ? span
            : throw new RequestBodyError($"?wait={text} is not a duration from 1ms to 10m (use 30s, 2m)");
    }

    private static DateTimeOffset Time(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : throw new RequestBodyError($"'at' '{text}' is not an ISO 8601 time (2026-11-25T03:00:00Z)");
}
