using HA.Core.Errors;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace HA.Api.Config;

/// <summary>Reads the top-level mapping of a YAML (or JSON) file, with errors that name the file and the line.</summary>
public static class YamlRoot
{
    /// <param name="error">builds the error to throw from its one-line message (TopologyError, OperatorError, ...)</param>
    public static YamlMappingNode Load(string text, string source, IEnumerable<string> expectedKeys, Func<string, OperatorError> error)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw error($"{source}: line {e.Start.Line}: {(e.InnerException?.Message ?? e.Message).Split('\n')[0]}");
        }
        return stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode root
            ? root
            : throw error($"{source}: expected a mapping with keys {string.Join(", ", expectedKeys)}");
    }
}
