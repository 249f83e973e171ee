using HA.Agent.Lease;
using HA.Core.Errors;
using HA.Core.Leases;
using HA.Testing;
using Npgsql;

namespace HA.Agent.Tests.Lease;

[CollectionDefinition(Name)]
public sealed class LeaseWitnessCollection : ICollectionFixture<TestWitness>
{
    public const string Name = "lease witness";
}

[Collection(LeaseWitnessCollection.Name)]
public sealed class postgres_lease_store(TestWitness witness) : LeaseStoreContract
{
    private string? _database;

    protected override TimeSpan Ttl => TimeSpan.FromSeconds(3);

    protected override async Task<ILeaseStore> OpenAsync() =>
        await PostgresLeaseStore.OpenAsync(_database ??= await witness.NewDatabaseAsync());

    [Fact]
    public async Task an_unreachable_database_at_start_names_the_setting()
    {
        var error = await Assert.ThrowsAsync<OperatorError>(() => PostgresLeaseStore.OpenAsync("Host=127.0.0.1;Port=1;Username=postgres;Timeout=2"));
        Assert.StartsWith("lease.postgres.connection_string: the database is unreachable", error.Message);
    }

    [Fact]
    public async Task wrong_credentials_name_the_setting()
    {
        var database = new NpgsqlConnectionStringBuilder(await witness.NewDatabaseAsync());
        var tcp = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = database.Port, Username = "postgres", Password = "wrong", Database = database.Database };
        var error = await Assert.ThrowsAsync<OperatorError>(() => PostgresLeaseStore.OpenAsync(tcp.ConnectionString));
        Assert.StartsWith("lease.postgres.connection_string: the credentials were refused", error.Message);
    }

    [Fact]
    public async Task a_malformed_connection_string_names_the_setting()
    {
        var error = await Assert.ThrowsAsync<OperatorError>(() => PostgresLeaseStore.OpenAsync("Host=127.0.0.1;Prot=5432"));
        Assert.StartsWith("lease.postgres.connection_string is malformed: ", error.Message);
    }
}
