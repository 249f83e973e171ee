using HA.Core.Parameters;

namespace HA.Core.Tests.Parameters;

/// <summary>Values are read as PostgreSQL reads them, before anything is recorded.</summary>
public sealed class validating_parameter_values
{
    [Theory]
    [InlineData("on", "on")]
    [InlineData("OFF", "off")]
    [InlineData("true", "on")]
    [InlineData("t", "on")]
    [InlineData("Yes", "on")]
    [InlineData("y", "on")]
    [InlineData("1", "on")]
    [InlineData("0", "off")]
    [InlineData("f", "off")]
    [InlineData("no", "off")]
    [InlineData("of", "off")]
    public void booleans_take_every_form_postgresql_accepts(string given, string recorded)
    {
        var plan = Catalog.Plan(null, ("jit", given));
        Assert.Empty(plan.Problems);
        Assert.Equal(recorded, plan.Changes["jit"]);
    }

    [Theory]
    [InlineData("o")]
    [InlineData("2")]
    [InlineData("maybe")]
    [InlineData("")]
    public void a_boolean_that_is_not_one_is_refused(string given) =>
        Assert.Equal($"jit: '{given}' is not a boolean (on, off, true, false, yes, no, 1, 0)", Catalog.Problem("jit", given));

    [Theory]
    [InlineData("64MB")]
    [InlineData("64 MB")]
    [InlineData("65536")]
    [InlineData("65536kB")]
    [InlineData("1.5GB")]
    [InlineData("0x10000")]
    [InlineData("1TB")]
    public void memory_takes_the_memory_units_within_the_bounds(string given) =>
        Assert.Null(Catalog.Problem("work_mem", given));

    [Fact]
    public void memory_is_converted_to_its_base_unit_before_the_bounds_are_checked()
    {
        Assert.Equal(65536, Number("work_mem", "64MB"));
        Assert.Equal(16384, Number("shared_buffers", "128MB")); // 8kB pages
        Assert.Equal(98, Number("work_mem", "100000B")); // 97.66 kB: rounded, as PostgreSQL does
        Assert.Equal("work_mem: '32kB' (32 kB) is outside the valid range 64 .. 2147483647 kB", Catalog.Problem("work_mem", "32kB"));
        Assert.Equal("work_mem: '4TB' is out of range for an integer parameter", Catalog.Problem("work_mem", "4TB"));
        Assert.Equal("shared_buffers: '64kB' (8 8kB) is outside the valid range 16 .. 1073741823 8kB", Catalog.Problem("shared_buffers", "64kB"));
    }

    [Fact]
    public void a_unit_of_the_wrong_kind_or_spelled_wrong_is_refused_naming_the_units_it_takes()
    {
        Assert.Equal("work_mem: '64ms': 'ms' is not a unit of work_mem; use B, kB, MB, GB, TB", Catalog.Problem("work_mem", "64ms"));
        Assert.Equal("work_mem: '64mb': 'mb' is not a unit of work_mem; use B, kB, MB, GB, TB", Catalog.Problem("work_mem", "64mb"));
        Assert.Equal("log_min_duration_statement: '2MB': 'MB' is not a unit of log_min_duration_statement; use us, ms, s, min, h, d", Catalog.Problem("log_min_duration_statement", "2MB"));
        Assert.Equal("max_connections: '10MB': max_connections takes a plain whole number, without a unit", Catalog.Problem("max_connections", "10MB"));
        Assert.Equal("work_mem: 'lots' is not a valid amount of memory (a number, optionally with a unit: B, kB, MB, GB, TB)", Catalog.Problem("work_mem", "lots"));
        Assert.Equal("max_connections: 'many' is not a valid whole number", Catalog.Problem("max_connections", "many"));
    }

    [Fact]
    public void durations_take_the_time_units_and_their_bounds()
    {
        Assert.Equal(250, Number("log_min_duration_statement", "250ms"));
        Assert.Equal(2000, Number("log_min_duration_statement", "2s"));
        Assert.Equal(60000, Number("log_min_duration_statement", "1min"));
        Assert.Equal(-1, Number("log_min_duration_statement", "-1"));
        Assert.Equal("log_min_duration_statement: '-2' is outside the valid range -1 .. 2147483647 ms", Catalog.Problem("log_min_duration_statement", "-2"));
        Assert.Equal("log_min_duration_statement: '30d' is out of range for an integer parameter", Catalog.Problem("log_min_duration_statement", "30d"));
        Assert.Null(Catalog.Problem("vacuum_cost_delay", "2.5ms"));
        Assert.Equal("vacuum_cost_delay: '1s' (1000 ms) is outside the valid range 0 .. 100 ms", Catalog.Problem("vacuum_cost_delay", "1s"));
    }

    [Fact]
    public void reals_and_integers_are_checked_against_min_val_and_max_val()
    {
        Assert.Null(Catalog.Problem("checkpoint_completion_target", "0.7"));
        Assert.Equal("checkpoint_completion_target: '1.5' is outside the valid range 0 .. 1", Catalog.Problem("checkpoint_completion_target", "1.5"));
        Assert.Equal("max_connections: '0' is outside the valid range 1 .. 262143", Catalog.Problem("max_connections", "0"));
        Assert.Equal(150, Number("max_connections", "149.5")); // rounded half to even, as PostgreSQL does
    }

    [Fact]
    public void an_enum_takes_its_values_in_any_case_and_refuses_others_listing_them()
    {
        var plan = Catalog.Plan(null, ("log_statement", "DDL"));
        Assert.Equal("ddl", plan.Changes["log_statement"]);
        Assert.Equal("log_statement: 'everything' is not one of none, ddl, mod, all", Catalog.Problem("log_statement", "everything"));
    }

    [Fact]
    public void a_string_is_taken_as_it_is()
    {
        var plan = Catalog.Plan(null, ("application_name", "it's 100% mine"));
        Assert.Equal("it's 100% mine", plan.Changes["application_name"]);
    }

    private static double Number(string name, string value)
    {
        Assert.Null(ParameterValidation.ParseNumber(Catalog.Pg15[name], value, out var number));
        return number;
    }
}
