using HA.Core.Agent;
using HA.Core.State;

namespace HA.Core.Tests.Agent;

/// <summary>The facts of one agent's round, as a three-node cluster whose primary is n1 (term 3) would give them.</summary>
internal static class AgentScene
{
    public static readonly DateTimeOffset Now = new(2026, 1, 1, 3, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan RestartTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The log: n1 primary of term 3, n2 and n3 replicas; <paramref name="me"/> as seen from <paramref name="node"/>.</summary>
    public static LogSeen Log(MemberSeen? me, string? primary = "n1", long primaryTerm = 3, bool failover = false, params string[] members) => new()
    {
        Primary = primary,
        PrimaryTerm = primaryTerm,
        Term = primaryTerm,
        FailoverRunning = failover,
        Members = members.Length > 0 ? members : ["n1", "n2", "n3"],
        Me = me,
    };

    /// <summary>n1, the primary the log names, its server as given, holding the lease.</summary>
    public static AgentFacts Primary(ServerSeen server) => new()
    {
        Node = "n1",
        Now = Now,
        Server = server,
        DataDirectory = DataDirectoryState.Ready,
        HoldsLease = true,
        Log = Log(new MemberSeen(NodeRole.Primary)),
        WasMember = true,
        PrimaryRestartTimeout = RestartTimeout,
        Looping = true,
    };

    /// <summary>n2, a replica the log names, its server as given, holding no lease.</summary>
    public static AgentFacts Replica(ServerSeen server) => Primary(server) with
    {
        Node = "n2",
        HoldsLease = false,
        Log = Log(new MemberSeen(NodeRole.Replica)),
    };

    /// <summary>A server that went down <paramref name="secondsAgo"/> seconds ago.</summary>
    public static ServerSeen DownFor(double secondsAgo) => ServerSeen.Down(Now.AddSeconds(-secondsAgo));
}
