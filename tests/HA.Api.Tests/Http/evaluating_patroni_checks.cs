using HA.Api.Http;

namespace HA.Api.Tests.Http;

/// <summary>Patroni's health checks as pure decisions: which node passes which check, with lag and tags.</summary>
public sealed class evaluating_patroni_checks
{
    private static readonly HealthSnapshot Primary = new() { Node = "n1", PostgresRunning = true, InRecovery = false, HoldsPrimaryLease = true };
    private static readonly HealthSnapshot Replica = new() { Node = "n2", PostgresRunning = true, InRecovery = true, LagBytes = 2048 };
    private static readonly HealthSnapshot Stopped = new() { Node = "n3", PostgresRunning = false };

    private static bool Passes(PatroniCheck check, HealthSnapshot node, string? lag = null, params (string Key, string Value)[] query)
    {
        var limit = lag is null ? (LagLimit?)null : LagLimit.TryParse(lag, out var l) ? l : throw new ArgumentException(lag);
        var all = query.Select(q => KeyValuePair.Create(q.Key, q.Value));
        if (lag is not null) all = all.Append(KeyValuePair.Create("lag", lag));
        return PatroniChecks.Evaluate(check, node, limit, all).Passes;
    }

    [Theory]
    [InlineData(PatroniCheck.Primary, true, false, false)]
    [InlineData(PatroniCheck.Leader, true, false, false)]
    [InlineData(PatroniCheck.Replica, false, true, false)]
    [InlineData(PatroniCheck.ReadOnly, true, true, false)]
    [InlineData(PatroniCheck.Synchronous, false, false, false)]
    [InlineData(PatroniCheck.Asynchronous, false, true, false)]
    [InlineData(PatroniCheck.Health, true, true, false)]
    public void each_check_passes_on_the_nodes_patroni_would_pass(PatroniCheck check, bool primary, bool replica, bool stopped) =>
        Assert.Equal((primary, replica, stopped), (Passes(check, Primary), Passes(check, Replica), Passes(check, Stopped)));

    [Fact]
    public void a_server_taking_writes_without_the_lease_is_no_primary_and_the_lease_alone_is_a_leader()
    {
        var unleased = Primary with { HoldsPrimaryLease = false };
        Assert.Equal((false, "PostgreSQL accepts writes but this node does not hold the primary lease"), PatroniChecks.Evaluate(PatroniCheck.Primary, unleased, null, []));
        Assert.False(Passes(PatroniCheck.ReadOnly, unleased));
        Assert.True(Passes(PatroniCheck.Leader, Stopped with { HoldsPrimaryLease = true }));
    }

    [Fact]
    public void a_synchronous_standby_passes_sync_and_not_async() =>
        Assert.Equal((true, false), (Passes(PatroniCheck.Synchronous, Replica with { SynchronousStandby = true }), Passes(PatroniCheck.Asynchronous, Replica with { SynchronousStandby = true })));

    [Fact]
    public void a_detached_replica_is_out_of_load_balancing() =>
        Assert.Equal((false, "detached for maintenance (noloadbalance)"), PatroniChecks.Evaluate(PatroniCheck.Replica, Replica with { Detached = true }, null, []));

    [Fact]
    public void a_replica_over_the_lag_fails_and_one_within_it_passes()
    {
        Assert.True(Passes(PatroniCheck.Replica, Replica, "2kB"));
        Assert.Equal((false, "replay lags 2048 bytes, over 1024 bytes"), PatroniChecks.Evaluate(PatroniCheck.Replica, Replica, new LagLimit(1024, null), []));
        Assert.False(Passes(PatroniCheck.ReadOnly, Replica, "1kB"));
        Assert.True(Passes(PatroniCheck.ReadOnly, Primary, "1kB"));
        var late = Replica with { LagDelay = TimeSpan.FromSeconds(12) };
        Assert.Equal((false, true), (Passes(PatroniCheck.Replica, late, "10s"), Passes(PatroniCheck.Replica, late, "1min")));
    }

    [Fact]
    public void a_lag_that_is_not_known_does_not_fail_the_check_as_in_patroni() =>
        Assert.True(Passes(PatroniCheck.Replica, Replica with { LagBytes = null, LagDelay = null }, "0"));

    [Fact]
    public void every_tag_asked_must_have_the_value_asked()
    {
        var tagged = Replica with { NoFailover = true, FailoverPriority = 2 };
        Assert.True(Passes(PatroniCheck.Replica, tagged, null, ("nofailover", "true"), ("failover_priority", "2")));
        Assert.True(Passes(PatroniCheck.Replica, tagged, null, ("nofailover", "True")));
        Assert.Equal((false, "tag failover_priority is 2, not 1"), PatroniChecks.Evaluate(PatroniCheck.Replica, tagged, null, [KeyValuePair.Create("failover_priority", "1")]));
        Assert.Equal((false, "no tag clonefrom"), PatroniChecks.Evaluate(PatroniCheck.Replica, tagged, null, [KeyValuePair.Create("clonefrom", "true")]));
    }
}
