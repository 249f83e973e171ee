using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using HA.Testing;

namespace HA.Cluster.Tests.Agents;

/// <summary>
/// systemd's Type=notify contract, as systemd reads it: a datagram "READY=1" on the Unix socket named by
/// NOTIFY_SOCKET once the service serves, "STOPPING=1" when it begins to stop. The listener here plays
/// systemd's part; the agent is the real `pgha run`.
/// </summary>
public sealed class pgha_run_under_systemd
{
    [Fact]
    public async Task tells_systemd_it_is_ready_once_its_agent_serves_and_that_it_stops_when_it_stops()
    {
        await using var agents = await AgentCluster.StartAsync();
        await AgentScenario.BootstrappedAsync(agents);
        agents.KillAgent("n3");

        var path = Path.Combine(Path.GetTempPath(), $"pgha-test-notify-{Guid.NewGuid():n}.sock");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            var agent = agents.StartAgent("n3", new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path });
            var said = new List<string>();
            while (!said.Contains("READY=1")) said.AddRange(await ReceiveAsync(systemd, agent, AgentScenario.Long));

            // Ready means serving: the agent has done a round and its API answers.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var liveness = await http.GetAsync(agents.ApiUrl("n3") + "/liveness");
            Assert.True(liveness.IsSuccessStatusCode, $"/liveness answered {(int)liveness.StatusCode} after READY=1");
            Assert.Contains(said, s => s.StartsWith("STATUS=node n3 of cluster ", StringComparison.Ordinal));

            agent.Signal("TERM");
            while (!said.Contains("STOPPING=1")) said.AddRange(await ReceiveAsync(systemd, agent: null, TimeSpan.FromSeconds(60)));
            Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal(1, said.Count(s => s == "READY=1"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The lines of the next datagram; fails with the agent's output when none comes in time, or when the agent exited first.</summary>
    private static async Task<IEnumerable<string>> ReceiveAsync(Socket systemd, PghaProcess? agent, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(timeout);
        var receive = systemd.ReceiveAsync(buffer, SocketFlags.None, deadline.Token).AsTask();
        while (!receive.IsCompleted)
        {
            if (agent is { HasExited: true })
                throw new InvalidOperationException($"pgha run exited before notifying systemd. stdout:\n{agent.Output}\nstderr:\n{agent.Error}");
            await Task.WhenAny(receive, Task.Delay(200));
        }
        try
        {
            var length = await receive;
            return Encoding.UTF8.GetString(buffer, 0, length).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no notification within {timeout.TotalSeconds:0} s. stdout:\n{agent?.Output}\nstderr:\n{agent?.Error}");
        }
    }
}
