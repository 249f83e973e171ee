using System.Text.Json;
using HA.Agent.Gossip;
using HA.Api.Http;
using HA.Core.Directives;
using HA.Core.Events;
using HA.Core.History;
using HA.Core.State;

namespace HA.Api.Tests.Http;

/// <summary>The pure parts of the read API: query parameters, the token check, node views, directive outcomes and event frames.</summary>
public sealed class reading_the_api_without_a_cluster
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 3, 12, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("2026-11-25T01:00:00Z", "2026-11-25T01:00:00.0000000+00:00")]
    [InlineData("2026-11-25T03:00:00+02:00", "2026-11-25T01:00:00.0000000+00:00")]
    [InlineData("2026-11-25T01:00:00", "2026-11-25T01:00:00.0000000+00:00")]
    [InlineData("30s", "2026-11-25T03:11:30.0000000+00:00")]
    [InlineData("10m", "2026-11-25T03:02:00.0000000+00:00")]
    [InlineData("2h", "2026-11-25T01:12:00.0000000+00:00")]
    [InlineData("1d", "2026-11-24T03:12:00.0000000+00:00")]
    public void a_time_is_iso_8601_or_a_duration_back_from_now(string text, string expected)
    {
        Assert.Equal(expected, ReadQuery.Time("at", text, Now)!.Value.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("")]
    [InlineData("10x")]
    [InlineData("-5m")]
    public void anything_else_is_a_bad_parameter_naming_it_and_the_forms_expected(string text)
    {
        var bad = Assert.Throws<BadParameter>(() => ReadQuery.Time("since", text, Now));
        Assert.Equal("since", bad.Parameter);
        Assert.Equal($"since='{text}' is neither an ISO 8601 time (2026-11-25T03:12:00Z) nor a duration back from now (30s, 10m, 2h, 1d)", bad.Message);
        Assert.Null(ReadQuery.Time("since", null, Now));
    }

    [Fact]
    public void integers_are_bounded_and_lists_are_comma_separated()
    {
        Assert.Equal(5, ReadQuery.Integer("limit", "5", 1, 1000));
        Assert.Null(ReadQuery.Integer("limit", null, 1, 1000));
        foreach (var bad in new[] { "0", "1001", "-1", "ten", "1.5" })
            Assert.Equal($"limit='{bad}' is not a whole number from 1 to 1000", Assert.Throws<BadParameter>(() => ReadQuery.Integer("limit", bad, 1, 1000)).Message);
        Assert.Equal(["a", "b"], ReadQuery.List(" a, ,b "));
        Assert.Null(ReadQuery.List(" , "));
    }

    [Fact]
    public void a_bearer_token_matches_only_itself()
    {
        Assert.True(ApiAuthorization.BearerMatches("Bearer s3cret", "s3cret"));
        Assert.True(ApiAuthorization.BearerMatches("bearer  s3cret ", "s3cret"));
        Assert.False(ApiAuthorization.BearerMatches("Bearer s3cre", "s3cret"));
        Assert.False(ApiAuthorization.BearerMatches("Bearer s3cret-and-more", "s3cret"));
        Assert.False(ApiAuthorization.BearerMatches("Basic s3cret", "s3cret"));
        Assert.False(ApiAuthorization.BearerMatches(null, "s3cret"));
    }

    [Fact]
    public void a_stream_starts_after_last_event_id_else_after_since_version()
    {
        Assert.Equal(12, EventStreamEndpoint.StartAfter("12", "3"));
        Assert.Equal(3, EventStreamEndpoint.StartAfter(null, "3"));
        Assert.Null(EventStreamEndpoint.StartAfter(" ", null));
        Assert.Equal("Last-Event-ID", Assert.Throws<BadParameter>(() => EventStreamEndpoint.StartAfter("x", null)).Parameter);
        Assert.Equal("since_version", Assert.Throws<BadParameter>(() => EventStreamEndpoint.StartAfter(null, "-1")).Parameter);
    }

    [Fact]
    public void an_event_is_one_frame_with_its_version_as_id_and_its_json_on_one_line()
    {
        var recorded = new RecordedEvent("main", 7, 70, Now, 3, new FailoverPaused("maintenance\nof storage") { By = Initiator.User("alice"), CorrelationId = "c-1" });
        var frame = EventStreamEndpoint.Frame(ReadJson.Event(recorded));
        var lines = frame.Split('\n');
        Assert.Equal(["id: 7", lines[1], "", ""], lines);
        using var data = JsonDocument.Parse(lines[1]["data: ".Length..]);
        var root = data.RootElement;
        Assert.Equal((7, "failover_paused", "user alice", "c-1", 3L), (root.GetProperty("version").GetInt64(), root.GetProperty("type").GetString(),
            root.GetProperty("by").GetString(), root.GetProperty("correlation_id").GetString(), root.GetProperty("fencing_token").GetInt64()));
        Assert.Equal("maintenance\nof storage", root.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("7  2026-11-25T03:12:00.000Z  failover_paused — automatic failover paused: maintenance\nof storage (by user alice)", root.GetProperty("line").GetString());
    }

    [Fact]
    public void each_directive_is_shown_with_its_answer_or_as_pending()
    {
        RecordedEvent At(long version, ClusterEvent e) => new("main", version, version, Now.AddSeconds(version), 1, e);
        var by = Initiator.Coordinator("n1");
        var events = new[]
        {
            At(1, new DirectiveIssued("d1", "n2", DirectiveKind.Promote, 2, 1, Now.AddMinutes(1), new Promote(null)) { By = by, CorrelationId = "f" }),
            At(2, new DirectiveIssued("d2", "n1", DirectiveKind.ApplyConfig, 2, 1, Now.AddMinutes(1), new ApplySynchronousStandbys("")) { By = by, CorrelationId = "p" }),
            At(3, new DirectiveSucceeded("d1", "n2", TimeSpan.FromMilliseconds(1250), "promoted") { By = Initiator.Agent("n2"), CorrelationId = "f" }),
            At(4, new DirectiveIssued("d3", "n3", DirectiveKind.Repoint, 2, 1, Now.AddMinutes(1), new Repoint("n2")) { By = by, CorrelationId = "f" }),
            At(5, new DirectiveExpired("d2", "n1", DirectiveKind.ApplyConfig, 1, false, "no answer in 30 s") { By = by, CorrelationId = "p" }),
        };
        var views = ReadEndpoints.Directives(events);
        Assert.Equal(["d1 PROMOTE succeeded 1.25 promoted", "d2 APPLY_CONFIG expired  no answer in 30 s", "d3 REPOINT pending  "],
            views.Select(v => $"{v.DirectiveId} {v.Kind} {v.Outcome} {v.DurationSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture)} {v.Detail}"));
        Assert.Equal("APPLY_CONFIG", ReadJson.Event(events[1]).Data.GetProperty("kind").GetString()); // as the design writes kinds, here too
        Assert.Equal(DirectiveKind.ApplyConfig, ReadEndpoints.ParseKind("apply_config"));
        Assert.Equal(DirectiveKind.ApplyConfig, ReadEndpoints.ParseKind("APPLY_CONFIG"));
        Assert.Equal(DirectiveKind.Promote, ReadEndpoints.ParseKind("Promote"));
        Assert.StartsWith("kind='boom' is not a directive kind; use one of FENCE, PROMOTE", Assert.Throws<BadParameter>(() => ReadEndpoints.ParseKind("boom")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void a_node_shows_its_fresh_heartbeat_and_falls_back_to_the_log_when_it_has_none()
    {
        var state = new ClusterState { Cluster = "main", Primary = "n1", Timeline = 2 };
        state.Nodes["n1"] = new NodeView { Name = "n1", Host = "10.0.0.1", Port = 5432, Role = NodeRole.Primary, Health = NodeHealth.Healthy, Timeline = 2 };
        state.Nodes["n2"] = new NodeView { Name = "n2", Host = "10.0.0.2", Port = 5432, Role = NodeRole.Replica, Health = NodeHealth.Healthy, Replication = ReplicationStatus.Streaming, SyncState = "async", Timeline = 2 };
        state.Nodes["n3"] = new NodeView { Name = "n3", Host = "10.0.0.3", Port = 5432, Role = NodeRole.Replica, Health = NodeHealth.Unreachable, LagBytes = 4096, Timeline = 2, Detached = true };
        ReceivedHeartbeat Beat(string node, DateTimeOffset at, bool recovery, string lsn) => new(new Heartbeat
        {
            Cluster = "main",
            Node = node,
            Incarnation = 1,
            Sequence = 1,
            SentAt = at,
            PostgresRunning = true,
            InRecovery = recovery,
            Timeline = 2,
            CurrentLsn = recovery ? null : lsn,
            ReceivedLsn = recovery ? lsn : null,
            ReplayedLsn = recovery ? lsn : null,
            Upstream = recovery ? "n1" : null,
        }, at, 0);
        var heartbeats = new Dictionary<string, ReceivedHeartbeat>
        {
            ["n1"] = Beat("n1", Now, false, "0/3000100"),
            ["n2"] = Beat("n2", Now.AddMilliseconds(-200), true, "0/3000000"),
            ["n3"] = Beat("n3", Now.AddMinutes(-5), true, "0/1000000"), // stale: the log speaks for it
        };
        var nodes = ClusterViews.Nodes(state, heartbeats, Now, TimeSpan.FromSeconds(2),
            [new StandbyReplication("n2", "10.0.0.2", "streaming", "sync", "0/3000100", "0/3000100", "0/3000100", "0/3000000", 256, 0.001, 0.002, 0.004)],
            new Dictionary<string, long> { ["n1"] = 7 });
        Assert.Equal(["n1 primary running 0/3000100   ", "n2 replica streaming 0/3000000 256 0.004 sync", "n3 replica unreachable  4096  "],
            nodes.Select(n => $"{n.Name} {n.Role.ToString().ToLowerInvariant()} {n.State} {n.Lsn} {n.LagBytes} {n.LagSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture)} {n.SyncState}"));
        Assert.Equal((7L, 0L), (nodes[0].Connections.Proxy!.Value, nodes[1].Connections.Proxy!.Value));
        Assert.Null(ClusterViews.Nodes(state, heartbeats, Now, TimeSpan.FromSeconds(2), null, null)[0].Connections.Proxy); // no proxy on this node
        Assert.Equal(300_000L, nodes[2].HeartbeatAgeMs);
        Assert.True(nodes[2].Row().Detached);

        // Without the primary's report, lag is measured against the primary's heartbeat.
        var measured = ClusterViews.Nodes(state, heartbeats, Now, TimeSpan.FromSeconds(2), null, null);
        Assert.Equal((256L, (double?)null, "async"), (measured[1].LagBytes!.Value, measured[1].LagSeconds, measured[1].SyncState));
    }

    [Fact]
    public void a_node_state_is_one_word()
    {
        var node = new NodeView { Name = "n2", Health = NodeHealth.Healthy, Replication = ReplicationStatus.CatchingUp };
        Heartbeat Beat(bool running, bool recovery, string? upstream) => new() { Cluster = "c", Node = "n2", Incarnation = 1, Sequence = 1, SentAt = Now, PostgresRunning = running, InRecovery = recovery, Upstream = upstream };
        Assert.Equal("stopped", ClusterViews.StateOf(node, Beat(false, false, null)));
        Assert.Equal("running", ClusterViews.StateOf(node, Beat(true, false, null)));
        Assert.Equal("replaying", ClusterViews.StateOf(node, Beat(true, true, null)));
        Assert.Equal("catching_up", ClusterViews.StateOf(node, Beat(true, true, "n1")));
        Assert.Equal("unknown", ClusterViews.StateOf(node, null));
        node.Fenced = true;
        Assert.Equal("fenced", ClusterViews.StateOf(node, Beat(true, false, null)));
    }
}
