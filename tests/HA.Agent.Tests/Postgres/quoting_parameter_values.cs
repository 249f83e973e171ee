using HA.Agent.Postgres;

namespace HA.Agent.Tests.Postgres;

/// <summary>ALTER SYSTEM takes literals, not bind parameters: values are quoted, lists element by element.</summary>
public sealed class quoting_parameter_values
{
    [Fact]
    public void a_value_is_one_literal_with_its_quotes_doubled()
    {
        Assert.Equal("'64MB'", PostgresParameters.Literals("work_mem", "64MB"));
        Assert.Equal("'it''s; DROP TABLE x'", PostgresParameters.Literals("application_name", "it's; DROP TABLE x"));
        Assert.Equal("'a,b'", PostgresParameters.Literals("log_destination", "a,b"));
    }

    [Fact]
    public void a_list_postgresql_quotes_element_by_element_gets_one_literal_per_element()
    {
        Assert.Equal("'$user', 'public'", PostgresParameters.Literals("search_path", "\"$user\", public"));
        Assert.Equal("'pg_stat_statements', 'auto_explain'", PostgresParameters.Literals("shared_preload_libraries", "pg_stat_statements,auto_explain"));
        Assert.Equal(["a,b", "c\"d"], PostgresParameters.SplitList("\"a,b\", \"c\"\"d\""));
        Assert.Equal("''", PostgresParameters.Literals("search_path", ""));
    }
}
