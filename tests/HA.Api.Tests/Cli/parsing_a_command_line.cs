using HA.Api.Cli;
using HA.Core.Errors;

namespace HA.Api.Tests.Cli;

public sealed class parsing_a_command_line
{
    private static CommandLine Parse(params string[] arguments) =>
        CommandLine.Parse("pgha demo", arguments, ["--dir", "--nodes"], ["--reset", "--json"]);

    [Fact]
    public void values_flags_and_positionals()
    {
        var cli = Parse("status", "--dir", "/x", "--nodes=4", "--json");
        Assert.Equal("/x", cli.Value("--dir"));
        Assert.Equal(4, cli.Integer("--nodes", 1, 16));
        Assert.True(cli.Has("--json"));
        Assert.False(cli.Has("--reset"));
        Assert.Equal(["status"], cli.Positionals);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "unknown option '--bogus' for 'pgha demo'; see 'pgha demo --help'")]
    [InlineData(new[] { "--dir" }, "option --dir of 'pgha demo' needs a value")]
    [InlineData(new[] { "--dir", "--json" }, "option --dir of 'pgha demo' needs a value")]
    [InlineData(new[] { "--json=yes" }, "option --json of 'pgha demo' takes no value")]
    public void mistakes_are_usage_errors_that_name_the_option(string[] arguments, string message)
    {
        var error = Assert.Throws<UsageError>(() => Parse(arguments));
        Assert.Equal(message, error.Message);
        Assert.Equal(2, error.ExitCode);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("17")]
    [InlineData("three")]
    [InlineData("-1")]
    public void numbers_out_of_range_name_the_range(string value)
    {
        var error = Assert.Throws<UsageError>(() => Parse("--nodes", value).Integer("--nodes", 1, 16));
        Assert.Equal($"option --nodes of 'pgha demo' must be a whole number from 1 to 16, got '{value}'", error.Message);
    }

    [Fact]
    public void unexpected_positionals_are_refused()
    {
        var error = Assert.Throws<UsageError>(() => Parse("extra").NoPositionals());
        Assert.Equal("unexpected argument 'extra' for 'pgha demo'; see 'pgha demo --help'", error.Message);
    }

    [Fact]
    public void a_table_pads_columns_to_their_widest_cell()
    {
        var text = TextTable.Render(["A", "LONG"], [["wide-cell", "x"], ["b", "y"]]);
        Assert.Equal("A          LONG\nwide-cell  x\nb          y\n", text);
    }
}
