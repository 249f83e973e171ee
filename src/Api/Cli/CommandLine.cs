using System.Globalization;
using HA.Core.Errors;

namespace HA.Api.Cli;

/// <summary>
/// The options and positional words of one command, parsed against the options it accepts.
/// Anything else is a <see cref="UsageError"/> that names the option and the command.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _options;

    private CommandLine(string command, Dictionary<string, string?> options, List<string> positionals)
    {
        Command = command;
        _options = options;
        Positionals = positionals;
    }

    public string Command { get; }

    public IReadOnlyList<string> Positionals { get; }

    /// <param name="command">the command's name as the user typed it, for messages ("pgha demo")</param>
    /// <param name="valueOptions">options that take a value (<c>--dir D</c> or <c>--dir=D</c>)</param>
    /// <param name="flags">options without a value (<c>--json</c>)</param>
    public static CommandLine Parse(string command, IReadOnlyList<string> arguments, IEnumerable<string> valueOptions, IEnumerable<string> flags)
    {
        var takesValue = valueOptions.ToHashSet(StringComparer.Ordinal);
        var isFlag = flags.ToHashSet(StringComparer.Ordinal);
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        var positionals = new List<string>();
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            if (!argument.StartsWith("--", StringComparison.Ordinal) || argument == "--")
            {
                if (argument == "-h") { options["--help"] = null; continue; }
                positionals.Add(argument);
                continue;
            }
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? argument[..equals] : argument;
            if (name == "--help") { options[name] = null; continue; }
            if (isFlag.Contains(name))
            {
                if (equals > 0) throw new UsageError($"option {name} of '{command}' takes no value");
                options[name] = null;
            }
            else if (takesValue.Contains(name))
            {
                string value;
                if (equals > 0) value = argument[(equals + 1)..];
                else if (i + 1 < arguments.Count && !arguments[i + 1].StartsWith("--", StringComparison.Ordinal)) value = arguments[++i];
                else throw new UsageError($"option {name} of '{command}' needs a value");
                options[name] = value;
            }
            else
            {
                throw new UsageError($"unknown option '{name}' for '{command}'; see '{command} --help'");
            }
        }
        return new CommandLine(command, options, positionals);
    }

    public bool Has(string option) => _options.ContainsKey(option);

    public string? Value(string option) => _options.TryGetValue(option, out var value) ? value : null;

    public int? Integer(string option, int min, int max)
    {
        var text = Value(option);
        if (text is null) return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new UsageError($"option {option} of '{Command}' must be a whole number from {min} to {max}, got '{text}'");
        return value;
    }

    /// <summary>Fails when the command received positional words it does not take.</summary>
    public void NoPositionals()
    {
        if (Positionals.Count > 0)
            throw new UsageError($"unexpected argument '{Positionals[0]}' for '{Command}'; see '{Command} --help'");
    }
}
