using System.Text.Json;
using HA.Core.Events;

namespace HA.Agent.Directives;

/// <summary>
/// DESIGN §3.3 on the agent's side: a directive whose term or fencing token is older than one this
/// agent has already seen is refused (a deposed coordinator cannot act), and a directive delivered
/// twice is answered with its first result instead of running again. Delivery is at-least-once, also
/// across a restart of the agent, so with a <c>stateFile</c> what the gate has seen is kept on disk.
/// </summary>
public sealed class DirectiveGate
{
    private const int Remembered = 500;
    private readonly object _lock = new();
    private readonly Dictionary<string, DirectiveResult> _done = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly string? _stateFile;
    private long _highestTerm;
    private long _highestToken;

    public DirectiveGate(string? stateFile = null)
    {
        _stateFile = stateFile;
        if (stateFile is null || !File.Exists(stateFile)) return;
        var saved = JsonSerializer.Deserialize<Saved>(File.ReadAllText(stateFile));
        if (saved is null) return;
        (_highestTerm, _highestToken) = (saved.HighestTerm, saved.HighestToken);
        foreach (var result in saved.Done)
        {
            _done[result.DirectiveId] = result;
            _order.Enqueue(result.DirectiveId);
        }
    }

    /// <summary>The highest term seen in a directive this node accepted.</summary>
    public long HighestTerm
    {
        get { lock (_lock) return _highestTerm; }
    }

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
            if (refusal is not null) return DirectiveResult.For(envelope, false, TimeSpan.Zero, refusal);
            _highestTerm = Math.Max(_highestTerm, d.Term);
            _highestToken = Math.Max(_highestToken, d.FencingToken);
            Save();
            return null;
        }
    }

    public void Record(DirectiveResult result)
    {
        lock (_lock)
        {
            if (_done.TryAdd(result.DirectiveId, result)) _order.Enqueue(result.DirectiveId);
            while (_order.Count > Remembered) _done.Remove(_order.Dequeue());
            Save();
        }
    }

    private void Save()
    {
        if (_stateFile is null) return;
        var temporary = _stateFile + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(new Saved(_highestTerm, _highestToken, [.. _order.Select(id => _done[id])])));
        File.Move(temporary, _stateFile, overwrite: true);
    }

    private sealed record Saved(long HighestTerm, long HighestToken, List<DirectiveResult> Done);
}
