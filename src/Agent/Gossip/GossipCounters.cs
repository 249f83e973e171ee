using System.Globalization;

namespace HA.Agent.Gossip;

/// <summary>Why a received datagram was dropped.</summary>
public enum GossipRejection
{
    /// <summary>Its HMAC does not match: wrong secret, or altered on the way.</summary>
    BadMac,

    /// <summary>Authenticated, but the sender's name is not a configured peer.</summary>
    UnknownSender,

    /// <summary>Authenticated, but for another cluster.</summary>
    WrongCluster,

    /// <summary>Not newer than the last heartbeat accepted from that sender.</summary>
    Replay,

    /// <summary>Too short, or not a heartbeat.</summary>
    Malformed,

    /// <summary>From a known peer's name but not from that peer's configured address.</summary>
    WrongSource,
}

/// <summary>Running totals of one <see cref="GossipNode"/>; safe to read from any thread.</summary>
public sealed class GossipCounters
{
    private static readonly GossipRejection[] Reasons = Enum.GetValues<GossipRejection>();
    private readonly long[] _rejected = new long[Reasons.Length];
    private long _sent;
    private long _sendFailures;
    private long _received;

    /// <summary>Datagrams handed to the network (one per peer per heartbeat).</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Datagrams the network refused to take (peer unreachable and the like).</summary>
    public long SendFailures => Interlocked.Read(ref _sendFailures);

    /// <summary>Heartbeats accepted.</summary>
    public long Received => Interlocked.Read(ref _received);

    public long Rejected(GossipRejection reason) => Interlocked.Read(ref _rejected[(int)reason]);

    /// <summary>Rejections by reason name (bad_mac, unknown_sender, wrong_cluster, replay, malformed, wrong_source).</summary>
    public IReadOnlyDictionary<string, long> RejectedByReason => Reasons.ToDictionary(Name, Rejected);

    /// <summary>The snake_case name of a reason, as in metrics and logs.</summary>
    public static string Name(GossipRejection reason) => reason switch
    {
        GossipRejection.BadMac => "bad_mac",
        GossipRejection.UnknownSender => "unknown_sender",
        GossipRejection.WrongCluster => "wrong_cluster",
        GossipRejection.Replay => "replay",
        GossipRejection.Malformed => "malformed",
        GossipRejection.WrongSource => "wrong_source",
        _ => reason.ToString(),
    };

    internal void CountSent() => Interlocked.Increment(ref _sent);

    internal void CountSendFailure() => Interlocked.Increment(ref _sendFailures);

    internal void CountReceived() => Interlocked.Increment(ref _received);

    /// <summary>Counts one rejection and returns the new total for that reason.</summary>
    internal long CountRejected(GossipRejection reason) => Interlocked.Increment(ref _rejected[(int)reason]);

    public override string ToString()
    {
        var rejected = string.Join(", ", Reasons.Where(r => Rejected(r) > 0).Select(r => $"{Name(r)} {Rejected(r).ToString(CultureInfo.InvariantCulture)}"));
        return string.Create(CultureInfo.InvariantCulture, $"sent {Sent}, send failures {SendFailures}, received {Received}, rejected: {(rejected.Length == 0 ? "none" : rejected)}");
    }
}
