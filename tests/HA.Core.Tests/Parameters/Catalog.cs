using HA.Core.Parameters;

namespace HA.Core.Tests.Parameters;

/// <summary>Rows of PostgreSQL 15's pg_settings, as a member reports them.</summary>
internal static class Catalog
{
    public static readonly IReadOnlyDictionary<string, ParameterDefinition> Pg15 = new[]
    {
        new ParameterDefinition("work_mem", "integer", "user", "kB", "64", "2147483647", [], "4096", "4MB"),
        new ParameterDefinition("shared_buffers", "integer", "postmaster", "8kB", "16", "1073741823", [], "4096", "32MB"),
        new ParameterDefinition("max_connections", "integer", "postmaster", null, "1", "262143", [], "100", "100"),
        new ParameterDefinition("log_min_duration_statement", "integer", "superuser", "ms", "-1", "2147483647", [], "-1", "-1"),
        new ParameterDefinition("checkpoint_completion_target", "real", "sighup", null, "0", "1", [], "0.9", "0.9"),
        new ParameterDefinition("vacuum_cost_delay", "real", "user", "ms", "0", "100", [], "0", "0"),
        new ParameterDefinition("jit", "bool", "user", null, null, null, [], "on", "on"),
        new ParameterDefinition("log_statement", "enum", "superuser", null, null, null, ["none", "ddl", "mod", "all"], "none", "none"),
        new ParameterDefinition("application_name", "string", "user", null, null, null, [], "", ""),
        new ParameterDefinition("block_size", "integer", "internal", null, "8192", "8192", [], "8192", "8192"),
        new ParameterDefinition("port", "integer", "postmaster", null, "1", "65535", [], "5432", "5432"),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    public static ParameterPlan Plan(IReadOnlyDictionary<string, string>? current = null, params (string Name, string? Value)[] requested) =>
        ParameterValidation.Plan([.. requested.Select(r => new KeyValuePair<string, string?>(r.Name, r.Value))], Pg15, current ?? new Dictionary<string, string>());

    public static string? Problem(string name, string value) => Assert.Single(Plan(null, (name, value)).Problems.DefaultIfEmpty(null));
}
