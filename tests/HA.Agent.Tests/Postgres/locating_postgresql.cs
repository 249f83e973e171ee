using HA.Agent.Postgres;

namespace HA.Agent.Tests.Postgres;

public sealed class locating_postgresql
{
    [Fact]
    public async Task finds_the_installed_server_through_pg_config_or_the_debian_layout()
    {
        var binaries = await PostgresBinaries.LocateAsync(null, default);
        Assert.True(File.Exists(binaries.Path("postgres")));
        Assert.True(binaries.MajorVersion >= 13, $"version {binaries.MajorVersion}");
    }

    [Fact]
    public async Task finds_the_newest_version_under_the_search_root_without_pg_config()
    {
        var binaries = await PostgresBinaries.LocateAsync(null, default, pathVariable: "", searchRoot: PostgresBinaries.DefaultSearchRoot);
        Assert.StartsWith(PostgresBinaries.DefaultSearchRoot, binaries.BinDirectory);
    }

    [Fact]
    public async Task a_configured_directory_without_the_server_names_the_key_and_what_is_missing()
    {
        var empty = Directory.CreateTempSubdirectory("pgha-empty-bin").FullName;
        try
        {
            var error = await Assert.ThrowsAsync<PostgresNotFoundError>(() => PostgresBinaries.LocateAsync(empty, default));
            Assert.Contains("postgresql.bin_dir=" + empty, error.Message);
            Assert.Contains("missing postgres", error.Message);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public async Task no_install_anywhere_says_how_to_install_it()
    {
        var emptyRoot = Directory.CreateTempSubdirectory("pgha-no-postgres").FullName;
        try
        {
            var error = await Assert.ThrowsAsync<PostgresNotFoundError>(() => PostgresBinaries.LocateAsync(null, default, pathVariable: "", searchRoot: emptyRoot));
            Assert.Contains("no PostgreSQL server install found", error.Message);
            Assert.Contains("apt-get install -y postgresql", error.Message);
        }
        finally
        {
            Directory.Delete(emptyRoot);
        }
    }
}
