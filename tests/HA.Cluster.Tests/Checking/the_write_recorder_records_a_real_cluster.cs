using HA.Agent.Local;
using HA.Agent.Postgres;
using HA.Testing;
using HA.Testing.Checking;
using Npgsql;
using Xunit.Abstractions;

namespace HA.Cluster.Tests.Checking;

/// <summary>
/// The write recorder against a real primary and replica, then across a failover done by hand: the
/// history it records is what the fault tests feed to the checker, so it must tell a writer from a
/// read-only node and keep every acknowledged id accountable.
/// </summary>
public sealed class the_write_recorder_records_a_real_cluster(ITestOutputHelper output)
{
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(20);

    [Fact]
    public async Task only_the_primary_acknowledges_and_after_a_failover_by_hand_only_the_new_primary_does()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 2);
        var local = cluster.Cluster;
        var (n1, n2) = (local.Node("n1"), local.Node("n2"));
        await using var recorder = await WriteRecorder.StartAsync(local.Nodes.ToDictionary(n => n.Settings.Name, n => DirectConnection(local, n)), Every, default);

        // About two seconds of writes: the primary takes them, the replica refuses every one.
        await recorder.WaitForAcknowledgedOnAsync("n1", 100, TimeSpan.FromSeconds(60));
        await Eventually.HoldsAsync(() => Task.FromResult(recorder.Attempts.Count(a => a.Node == "n2" && a.Error?.StartsWith("25006", StringComparison.Ordinal) == true)),
            refused => refused >= 10, TimeSpan.FromSeconds(30), "n2's writer to be refused as read-only");
        var before = recorder.Attempts; // every write acknowledged here committed before the ids are read
        var onN1 = await IdsOn(n1);

        Assert.True(before.Count(a => a.Acknowledged) >= 100);
        Assert.All(before.Where(a => a.Acknowledged), a => Assert.Equal("n1", a.Node));
        // Before the table reached the replica an insert can fail as undefined (42P01); after, only as read-only.
        Assert.All(before.Where(a => a.Node == "n2"), a => Assert.Matches("^(25006|42P01): ", a.Error));
        HistoryChecker.Check(before, new SurvivingWrites("n1", onN1)).AssertClean();

        // The primary crashes; its replica is promoted by hand and takes the writes.
        await n1.StopAsync(StopMode.Immediate, default);
        await n2.PromoteAsync(default);
        await recorder.WaitForAcknowledgedOnAsync("n2", 20, TimeSpan.FromSeconds(60));
        await recorder.StopAsync();
        var history = recorder.Attempts;
        var onN2 = await IdsOn(n2);

        // Async replication and an immediate stop: the last few commits of n1 may never have reached n2.
        var check = HistoryChecker.Check(history, new SurvivingWrites("n2", onN2, AllowedLoss: 10));
        output.WriteLine(check.Summary);
        check.AssertClean();
        var firstOnN2 = history.Where(a => a.Node == "n2" && a.Acknowledged).Min(a => a.AckedAt!.Value);
        Assert.All(history.Where(a => a.Node == "n1" && a.Acknowledged), a => Assert.True(a.AckedAt < firstOnN2, $"n1 acknowledged {a} after n2's first write"));
        Assert.Contains(history, a => a.Node == "n1" && a.SentAt > firstOnN2 && a.Error is not null);

        // The same history with the old primary acknowledging once more after the new one did.
        var lastOnN2 = history.Where(a => a.Node == "n2" && a.Acknowledged).MaxBy(a => a.AckedAt)!;
        var stale = new WriteAttempt(history.Max(a => a.Id) + 1, "n1", lastOnN2.AckedAt!.Value.AddMilliseconds(1), lastOnN2.AckedAt.Value.AddMilliseconds(3), null);
        var forged = HistoryChecker.Check([.. history, stale]);
        var violation = Assert.Single(forged.Violations);
        Assert.Equal(ViolationKind.FormerWriterReturned, violation.Kind);
        Assert.Contains($"then n1 acked ids {stale.Id}", violation.Evidence, StringComparison.Ordinal);
        Assert.Throws<HistoryViolation>(forged.AssertClean);
    }

    /// <summary>Over TCP with the superuser's password, the way an application reaches one node.</summary>
    private static string DirectConnection(LocalCluster cluster, PostgresInstance node) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = node.Settings.ListenAddress,
            Port = node.Settings.Port,
            Username = node.Settings.Superuser,
            Password = cluster.Credentials.SuperuserPassword,
            Database = "postgres",
        }.ConnectionString;

    private static async Task<IReadOnlySet<long>> IdsOn(PostgresInstance node)
    {
        await using var connection = new NpgsqlConnection(NodeProbe.ConnectionString(node.Settings));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT id FROM {WriteRecorder.Table}", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<long>();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        return ids;
    }
}
