using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using HA.Core.Events;

namespace HA.Core.Replication;

/// <summary>
/// A set of standbys and how many of them acknowledge every commit: what synchronous_standby_names
/// makes the primary wait for (<c>FIRST k (..)</c> with k = every name listed, or <c>ANY k (..)</c>), and
/// what the log records as the standbys that may be promoted. A commit acknowledged under
/// <c>ANY k</c> of n standbys is on at least k of them, so looking at n − k + 1 of them finds it.
/// </summary>
public sealed partial record SyncQuorum(int Acks, IReadOnlyList<string> Standbys)
{
    public static readonly SyncQuorum None = new(0, []);

    /// <summary>No standby is known to have every acknowledged commit.</summary>
    public bool IsEmpty => Acks <= 0 || Standbys.Count == 0;

    /// <summary>How many of <see cref="Standbys"/> must be looked at to be sure to find every acknowledged commit.</summary>
    public int NeededToFindEveryCommit => IsEmpty ? int.MaxValue : Standbys.Count - Acks + 1;

    /// <summary>
    /// True when every commit acknowledged under <paramref name="applied"/> (the primary's setting;
    /// null for '*', any standby) is on at least <see cref="Acks"/> of this set's standbys, so this set's
    /// promotion rule finds it. An empty set promises nothing and is covered by anything.
    /// </summary>
    public bool IsCoveredBy(SyncQuorum? applied)
    {
        if (IsEmpty) return true;
        if (applied is null) return false;
        return applied.Acks >= Acks + applied.Standbys.Count(s => !Standbys.Contains(s, StringComparer.Ordinal));
    }

    public bool SameAs(SyncQuorum other) =>
        (IsEmpty && other.IsEmpty)
        || (Acks == other.Acks && Standbys.Order(StringComparer.Ordinal).SequenceEqual(other.Standbys.Order(StringComparer.Ordinal), StringComparer.Ordinal));

    /// <summary>The synchronous_standby_names value: '' (asynchronous), '*' (any one standby: strict mode with none left), or FIRST/ANY k ("a", "b").</summary>
    public static string Format(SynchronousMode mode, SyncQuorum quorum, bool strict)
    {
        if (mode == SynchronousMode.Off) return "";
        if (quorum.IsEmpty) return strict ? "*" : "";
        var names = string.Join(", ", quorum.Standbys.Select(s => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
        return string.Create(CultureInfo.InvariantCulture, $"{(mode == SynchronousMode.Quorum ? "ANY" : "FIRST")} {quorum.Acks} ({names})");
    }

    /// <summary>Reads back a value <see cref="Format"/> wrote: null for '*' (any standby may acknowledge), <see cref="None"/> for ''.</summary>
    public static SyncQuorum? Parse(string value)
    {
        var text = value.Trim();
        if (text.Length == 0) return None;
        if (text == "*") return null;
        var match = Pattern().Match(text);
        if (!match.Success) throw new FormatException($"synchronous_standby_names '{value}' is not in the form pgha writes (FIRST k (\"a\", ...) or ANY k (...))");
        var names = new List<string>();
        var list = match.Groups["names"].Value;
        var name = new StringBuilder();
        for (var i = 0; i < list.Length; i++)
        {
            var c = list[i];
            if (c == '"')
            {
                for (i++; i < list.Length; i++)
                {
                    if (list[i] == '"' && i + 1 < list.Length && list[i + 1] == '"') { name.Append('"'); i++; }
                    else if (list[i] == '"') break;
                    else name.Append(list[i]);
                }
            }
            else if (c == ',') { names.Add(name.ToString().Trim()); name.Clear(); }
            else if (!char.IsWhiteSpace(c) || name.Length > 0) name.Append(c);
        }
        names.Add(name.ToString().Trim());
        if (names.Contains("*")) return null;
        return new SyncQuorum(int.Parse(match.Groups["acks"].Value, CultureInfo.InvariantCulture), names);
    }

    public override string ToString() => IsEmpty ? "none" : $"{Acks} of ({string.Join(", ", Standbys)})";

    [GeneratedRegex(@"^(?:FIRST|ANY)\s+(?<acks>\d+)\s*\((?<names>.*)\)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>
/// The human line a primary's agent answers APPLY_CONFIG of synchronous_standby_names with; what it applied
/// is recorded from its typed outcome (<see cref="Directives.SynchronousStandbysSet"/>), never from this line.
/// </summary>
public static class SyncApplyDetail
{
    public static string Format(string value, Lsn lsn) => $"synchronous_standby_names = '{value}' in effect at {lsn}";
}
