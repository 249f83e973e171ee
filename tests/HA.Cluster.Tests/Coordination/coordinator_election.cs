using System.Collections.Concurrent;
using System.Diagnostics;
using HA.Agent.Coordinator;
using HA.Agent.Lease;
using HA.Core.Events;
using HA.Core.Leases;
using HA.Projections;
using HA.Testing;

namespace HA.Cluster.Tests.Coordination;

/// <summary>Three agents campaign on a real PostgreSQL lease store; elections are recorded in a real witness store.</summary>
public sealed class coordinator_election : IAsyncLifetime
{
    private static readonly LeaseTimings Timings = new(TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(1200));
    private readonly TestWitness _witness = new();
    private WitnessStore _events = null!;
    private ILeaseStore _leases = null!;

    public async Task InitializeAsync()
    {
        await _witness.InitializeAsync();
        var database = await _witness.NewDatabaseAsync();
        _events = await WitnessStore.OpenAsync(new WitnessStoreOptions { ConnectionString = database });
        _leases = await PostgresLeaseStore.OpenAsync(database);
        await _events.AppendAsync("demo", 0, [new ClusterBootstrapped("demo", "n1", 1, "0/3000000",
            [new NodeSpec("n1", "127.0.0.1", 5501), new NodeSpec("n2", "127.0.0.1", 5502), new NodeSpec("n3", "127.0.0.1", 5503)])
            { By = Initiator.System, CorrelationId = "bootstrap" }]);
    }

    public async Task DisposeAsync()
    {
        await _leases.DisposeAsync();
        await _events.DisposeAsync();
        await _witness.DisposeAsync();
    }

    /// <summary>What a coordinator does on taking office: record it, fenced by its own token.</summary>
    private async Task RecordElectionAsync(string node, LeaseGrant grant)
    {
        while (true)
        {
            try
            {
                await _events.AppendAsync("demo", await _events.VersionAsync("demo"), [new CoordinatorElected(node, grant.Token) { By = Initiator.Coordinator(node), CorrelationId = $"election-{grant.Token}" }], grant.Token);
                return;
            }
            catch (WitnessConcurrencyException) { }
        }
    }

    [Fact]
    public async Task exactly_one_coordinator_at_a_time_and_the_next_takes_over_when_the_holder_dies()
    {
        var offices = new ConcurrentQueue<(string Node, long Token, TimeSpan From)>();
        var deaths = new ConcurrentDictionary<string, TimeSpan>();
        var clock = Stopwatch.StartNew();
        var stops = new Dictionary<string, CancellationTokenSource>();
        var campaigns = new List<Task>();
        foreach (var node in new[] { "n1", "n2", "n3" })
        {
            var stop = new CancellationTokenSource();
            stops[node] = stop;
            var campaign = new CoordinatorCampaign(_leases, "demo", node, Timings, TimeProvider.System);
            campaigns.Add(Task.Run(() => campaign.RunAsync(
                async (grant, _) =>
                {
                    offices.Enqueue((node, grant.Token, clock.Elapsed));
                    await RecordElectionAsync(node, grant);
                },
                _ => Task.CompletedTask,
                stop.Token,
                releaseOnStop: false)));
        }

        // Kill the coordinator twice: each time another agent must take over, with a larger token.
        for (var kill = 0; kill < 2; kill++)
        {
            var current = await Eventually.HoldsAsync(() => _events.StateAsync("demo"), s => s.Coordinator is not null && !deaths.ContainsKey(s.Coordinator),
                TimeSpan.FromSeconds(60), "a live coordinator to be recorded");
            deaths[current.Coordinator!] = clock.Elapsed;
            await stops[current.Coordinator!].CancelAsync();
            var next = await Eventually.HoldsAsync(() => _events.StateAsync("demo"), s => s.Coordinator != current.Coordinator,
                TimeSpan.FromSeconds(60), $"another agent to replace {current.Coordinator}");
            Assert.True(next.CoordinatorToken > current.CoordinatorToken);
        }
        foreach (var stop in stops.Values) await stop.CancelAsync();
        await Task.WhenAll(campaigns);

        // History check: each office ends (its holder died) before the next begins, and never before the
        // dead holder's lease could have run out (its last renewal was at most two periods before its death,
        // allowing for a renewal delayed on a loaded machine).
        var history = offices.OrderBy(o => o.Token).ToList();
        Assert.Equal(3, history.Count);
        Assert.Equal(3, history.Select(o => o.Node).Distinct().Count());
        for (var i = 1; i < history.Count; i++)
        {
            var died = deaths[history[i - 1].Node];
            Assert.True(history[i].From >= died + Timings.Ttl - 2 * Timings.RenewEvery,
                $"{history[i].Node} took office at {history[i].From.TotalMilliseconds:0} ms, {history[i - 1].Node} died at {died.TotalMilliseconds:0} ms");
        }
        var elections = (await _events.EventsAsync("demo", new HistoryFilter { Types = ["coordinator_elected"] })).Events.Select(e => (CoordinatorElected)e.Event).ToList();
        Assert.Equal(history.Select(o => (o.Node, o.Token)), elections.Select(e => (e.Node, e.FencingToken)));
    }

    [Fact]
    public async Task a_deposed_coordinator_can_no_longer_append_decisions()
    {
        var first = (await _leases.TryAcquireAsync(LeaseKeys.Leader("demo"), "n1", Timings.Ttl, default))!;
        await RecordElectionAsync("n1", first);
        await _leases.ReleaseAsync(first, default);
        var second = (await _leases.TryAcquireAsync(LeaseKeys.Leader("demo"), "n2", Timings.Ttl, default))!;
        await RecordElectionAsync("n2", second);

        var stale = await Assert.ThrowsAsync<EventRejectedError>(() => _events.AppendAsync("demo", 3,
            [new FailoverPaused("stale decision") { By = Initiator.Coordinator("n1"), CorrelationId = "x" }], first.Token));
        Assert.Contains($"fencing token {first.Token} is older than {second.Token}", stale.Message);
        Assert.False((await _events.StateAsync("demo")).Paused);
    }
}
