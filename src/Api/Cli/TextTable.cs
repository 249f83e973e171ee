using System.Text;

namespace HA.Api.Cli;

/// <summary>A plain text table with a header row and columns padded to their widest cell.</summary>
public static class TextTable
{
    public static string Render(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.Prepend(header).ToList();
        var widths = Enumerable.Range(0, header.Count).Select(c => all.Max(r => c < r.Count ? r[c].Length : 0)).ToArray();
        var text = new StringBuilder();
        foreach (var row in all)
        {
            for (var c = 0; c < header.Count; c++)
            {
                var cell = c < row.Count ? row[c] : "";
                text.Append(c == header.Count - 1 ? cell : cell.PadRight(widths[c] + 2));
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
