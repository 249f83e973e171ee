using System.Globalization;

namespace HA.Core.Replication;

/// <summary>A PostgreSQL write-ahead log position ("16/B374D848"), comparable and subtractable in bytes.</summary>
public readonly record struct Lsn(ulong Value) : IComparable<Lsn>
{
    public static readonly Lsn Zero = new(0);

    /// <summary>Parses PostgreSQL's textual form: two hexadecimal halves separated by a slash.</summary>
    public static Lsn Parse(string text)
    {
        if (TryParse(text, out var lsn)) return lsn;
        throw new FormatException($"'{text}' is not a PostgreSQL LSN (expected two hexadecimal numbers separated by '/', like 0/3000060)");
    }

    public static bool TryParse(string? text, out Lsn lsn)
    {
        lsn = Zero;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var slash = text.IndexOf('/');
        if (slash <= 0 || slash == text.Length - 1 || text.IndexOf('/', slash + 1) >= 0) return false;
        if (!uint.TryParse(text.AsSpan(0, slash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high)) return false;
        if (!uint.TryParse(text.AsSpan(slash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low)) return false;
        lsn = new Lsn(((ulong)high << 32) | low);
        return true;
    }

    /// <summary>Bytes of WAL between two positions; zero when <paramref name="behind"/> is not behind.</summary>
    public static long BytesBehind(Lsn ahead, Lsn behind) =>
        ahead.Value > behind.Value ? checked((long)(ahead.Value - behind.Value)) : 0;

    public int CompareTo(Lsn other) => Value.CompareTo(other.Value);

    public static bool operator <(Lsn a, Lsn b) => a.Value < b.Value;
    public static bool operator >(Lsn a, Lsn b) => a.Value > b.Value;
    public static bool operator <=(Lsn a, Lsn b) => a.Value <= b.Value;
    public static bool operator >=(Lsn a, Lsn b) => a.Value >= b.Value;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{(uint)(Value >> 32):X}/{(uint)Value:X}");
}
