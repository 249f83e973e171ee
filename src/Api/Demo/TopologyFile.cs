using System.Globalization;
using HA.Agent.Local;
using YamlDotNet.RepresentationModel;

namespace HA.Api.Demo;

/// <summary>
/// Reads a cluster topology from a JSON or YAML file (JSON is read as YAML, which contains it):
/// <code>
/// cluster: shop            # optional, default "demo"
/// listen_address: 127.0.0.1
/// base_port: 26000         # witness port and the start of the default node ports
/// witness: { port: 26000 } # optional
/// replicas: 2              # optional when nodes are listed
/// nodes:                   # optional when replicas is given; the first node starts as primary
///   - { name: alpha, port: 56001 }
///   - { name: beta }       # port defaults to base_port + position
/// </code>
/// Every mistake is a <see cref="TopologyError"/> naming the file and the key.
/// </summary>
public static class TopologyFile
{
    private static readonly string[] TopLevelKeys = ["cluster", "listen_address", "base_port", "witness", "replicas", "nodes"];

    public static LocalTopology Load(string path, int defaultBasePort)
    {
        if (!File.Exists(path)) throw new TopologyError($"topology file {path} does not exist");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TopologyError($"cannot read topology file {path}: {e.Message}");
        }
        return Parse(text, Path.GetFileName(path), defaultBasePort);
    }

    public static LocalTopology Parse(string text, string source, int defaultBasePort)
    {
        var root = Config.YamlRoot.Load(text, source, TopLevelKeys, message => new TopologyError(message));
        var values = Mapping(root, source, "", TopLevelKeys);
        var cluster = values.TryGetValue("cluster", out var c) ? Scalar(c, source, "cluster") : "demo";
        var listen = values.TryGetValue("listen_address", out var l) ? Scalar(l, source, "listen_address") : "127.0.0.1";
        var basePort = values.TryGetValue("base_port", out var b) ? Number(b, source, "base_port") : defaultBasePort;

        var witnessPort = basePort;
        if (values.TryGetValue("witness", out var w))
        {
            if (w is not YamlMappingNode witness) throw new TopologyError($"{source}: witness must be a mapping like {{ port: 26000 }}");
            var witnessValues = Mapping(witness, source, "witness.", ["port"]);
            if (witnessValues.TryGetValue("port", out var p)) witnessPort = Number(p, source, "witness.port");
        }

        int? replicas = values.TryGetValue("replicas", out var r) ? Number(r, source, "replicas") : null;
        var nodes = new List<LocalNodeSpec>();
        if (values.TryGetValue("nodes", out var n))
        {
            if (n is not YamlSequenceNode list) throw new TopologyError($"{source}: nodes must be a list of {{ name, port }}");
            for (var i = 0; i < list.Children.Count; i++)
            {
                var key = $"nodes[{i}]";
                if (list.Children[i] is not YamlMappingNode entry) throw new TopologyError($"{source}: {key} must be a mapping like {{ name: n1, port: 56001 }}");
                var entryValues = Mapping(entry, source, key + ".", ["name", "port"]);
                if (!entryValues.TryGetValue("name", out var name)) throw new TopologyError($"{source}: {key}.name is missing");
                var port = entryValues.TryGetValue("port", out var np) ? Number(np, source, key + ".port") : basePort + i + 1;
                nodes.Add(new LocalNodeSpec(Scalar(name, source, key + ".name"), port));
            }
            if (replicas is { } count && count != nodes.Count - 1)
                throw new TopologyError($"{source}: replicas is {count} but nodes lists {nodes.Count} node(s), that is a primary and {Math.Max(0, nodes.Count - 1)} replica(s); give one or make them agree");
        }
        else if (replicas is { } count)
        {
            if (count < 0) throw new TopologyError($"{source}: replicas must be 0 or more, got {count}");
            nodes.AddRange(LocalTopology.Generate(cluster, count + 1, basePort).Nodes);
        }
        else
        {
            throw new TopologyError($"{source}: give either nodes (a list of {{ name, port }}) or replicas (a count)");
        }

        var topology = new LocalTopology(cluster, witnessPort, nodes, listen);
        var problems = topology.Problems();
        if (problems.Count > 0) throw new TopologyError($"{source}: {problems[0]}" + (problems.Count > 1 ? $" (and {problems.Count - 1} more problem(s))" : ""));
        return topology;
    }

    private static Dictionary<string, YamlNode> Mapping(YamlMappingNode node, string source, string prefix, string[] allowed)
    {
        var values = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in node.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            if (!allowed.Contains(key))
                throw new TopologyError($"{source}: unknown key '{prefix}{key}' (line {keyNode.Start.Line}); expected {string.Join(", ", allowed.Select(a => prefix + a))}");
            if (!values.TryAdd(key, value)) throw new TopologyError($"{source}: key '{prefix}{key}' appears twice");
        }
        return values;
    }

    private static string Scalar(YamlNode node, string source, string key) =>
        node is YamlScalarNode { Value: { Length: > 0 } value }
            ? value
            : throw new TopologyError($"{source}: {key} must be a non-empty value (line {node.Start.Line})");

    private static int Number(YamlNode node, string source, string key)
    {
        var text = node is YamlScalarNode scalar ? scalar.Value : null;
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new TopologyError($"{source}: {key} must be a whole number, got '{text ?? node.NodeType.ToString()}' (line {node.Start.Line})");
    }
}
