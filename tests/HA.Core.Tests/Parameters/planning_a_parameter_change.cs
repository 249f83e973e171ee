using HA.Core.Parameters;

namespace HA.Core.Tests.Parameters;

/// <summary>All or nothing: every problem is named, managed and unknown parameters are refused, restart-only ones are pending.</summary>
public sealed class planning_a_parameter_change
{
    [Fact]
    public void reload_and_restart_parameters_are_told_apart()
    {
        var plan = Catalog.Plan(null, ("work_mem", "64MB"), ("max_connections", "200"), ("shared_buffers", "128MB"));
        Assert.True(plan.IsValid);
        Assert.Equal(["max_connections", "shared_buffers", "work_mem"], plan.Changes.Keys);
        Assert.Equal(["max_connections", "shared_buffers"], plan.PendingRestart);
    }

    [Fact]
    public void one_bad_parameter_makes_the_whole_change_invalid_and_every_problem_is_named()
    {
        var plan = Catalog.Plan(null, ("work_mem", "64MB"), ("no_such_thing", "1"), ("port", "6000"), ("block_size", "4096"), ("jit", "perhaps"));
        Assert.False(plan.IsValid);
        Assert.Equal(
        [
            "unknown parameter 'no_such_thing'",
            "port is managed by pgha: pgha sets it per node from pgha.yaml (node.host, node.port, node.data_dir)",
            "block_size is fixed when PostgreSQL is built or initialized: it cannot be set",
            "jit: 'perhaps' is not a boolean (on, off, true, false, yes, no, 1, 0)",
        ], plan.Problems);
    }

    [Theory]
    [InlineData("listen_addresses")]
    [InlineData("unix_socket_directories")]
    [InlineData("hot_standby")]
    [InlineData("wal_level")]
    [InlineData("primary_conninfo")]
    [InlineData("primary_slot_name")]
    [InlineData("synchronous_standby_names")]
    [InlineData("restore_command")]
    [InlineData("data_directory")]
    [InlineData("hba_file")]
    [InlineData("ident_file")]
    [InlineData("config_file")]
    [InlineData("wal_log_hints")]
    [InlineData("default_transaction_read_only")]
    public void parameters_pgha_manages_itself_are_refused_with_the_reason(string name)
    {
        var problem = Assert.Single(Catalog.Plan(null, (name, "x")).Problems);
        Assert.StartsWith($"{name} is managed by pgha: ", problem, StringComparison.Ordinal);
        Assert.NotNull(ManagedParameters.Reason(name));
    }

    [Fact]
    public void names_are_case_insensitive_given_once_and_must_look_like_names()
    {
        Assert.Equal("64MB", Catalog.Plan(null, ("Work_Mem", "64MB")).Changes["work_mem"]);
        Assert.Equal(["work_mem is given twice"], Catalog.Plan(null, ("work_mem", "64MB"), ("WORK_MEM", "1MB")).Problems);
        Assert.Equal(["'work mem; drop' is not a parameter name"], Catalog.Plan(null, ("work mem; drop", "1")).Problems);
    }

    [Fact]
    public void a_reset_needs_a_parameter_pgha_sets_and_a_value_already_set_changes_nothing()
    {
        var current = new Dictionary<string, string> { ["work_mem"] = "64MB" };
        Assert.Equal(["jit is not set through pgha: nothing to reset"], Catalog.Plan(current, ("jit", null)).Problems);
        var reset = Catalog.Plan(current, ("work_mem", null));
        Assert.True(reset.IsValid);
        Assert.Null(reset.Changes["work_mem"]);
        var same = Catalog.Plan(current, ("work_mem", " 64MB "));
        Assert.Empty(same.Changes);
        Assert.Equal(["work_mem"], same.Unchanged);
    }

    [Fact]
    public void a_parameter_a_standby_needs_at_the_primarys_value_can_be_raised_but_not_lowered()
    {
        Assert.True(Catalog.Plan(null, ("max_connections", "150")).IsValid);
        var lower = Assert.Single(Catalog.Plan(null, ("max_connections", "50")).Problems);
        Assert.StartsWith("max_connections: it would be 50, lower than the 100 the primary runs with: a standby needs at least the primary's value", lower, StringComparison.Ordinal);

        // Raised to 150 and restarted: resetting it would return it to the 100 of the configuration file.
        var raised = Catalog.Pg15.ToDictionary(p => p.Key, p => p.Key == "max_connections" ? p.Value with { Setting = "150" } : p.Value, StringComparer.Ordinal);
        var plan = ParameterValidation.Plan([new("max_connections", null)], raised, new Dictionary<string, string> { ["max_connections"] = "150" });
        Assert.StartsWith("max_connections: resetting it returns it to 100, lower than the 150 the primary runs with", Assert.Single(plan.Problems), StringComparison.Ordinal);
    }
}
