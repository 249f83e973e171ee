using HA.Core.Events;

namespace HA.Agent.Directives;

/// <summary>
/// DESIGN §3.3 on the agent's side: a directive whose term or fencing token is older than one this
/// agent has already seen is refused (a deposed coordinator cannot act), and a directive delivered
/// twice is answered with its first result instead of running again.
/// </summary>
public sealed class DirectiveGate
{
    private readonly object _lock = new();
    private readonly Dictionary<string, DirectiveResult> _done = new(StringComparer.Ordinal);
    private long _highestTerm;
    private long _highestToken;

    /// <summary>Null when the directive may run; otherwise the result to answer with (a refusal or the earlier result).</summary>
    public DirectiveResult? Admit(DirectiveEnvelope envelope, DateTimeOffset now)
    {
        var d = envelope.Directive;
        lock (_lock)
        {
            if (_done.TryGetValue(d.DirectiveId, out var earlier)) return earlier;
            string? refusal =
                d.Term < _highestTerm ? $"refused: term {d.Term} is older than term {_highestTerm} already seen"
                : d.FencingToken < _highestToken ? $"refused: fencing token {d.FencingToken} is older than {_highestToken} already seen (a deposed coordinator)"
                : d.ExpiresAt < now ? $"refused: expired at {d.ExpiresAt:O}"
                : null;
            if (refusal is not null) return new DirectiveResult(envelope.Cluster, d.DirectiveId, d.Node, false, TimeSpan.Zero, refusal);
            _highestTerm = Math.Max(_highestTerm, d.Term);
            _highestToken = Math.Max(_highestToken, d.FencingToken);
            return null;
        }
    }

    public void Record(DirectiveResult result)
    {
        lock (_lock) _done[result.DirectiveId] = result;
    }
}
