namespace HA.Projections;

/// <summary>Where the witness store lives and how it projects.</summary>
public sealed record WitnessStoreOptions
{
    /// <summary>The witness database (config key witness.connection_string).</summary>
    public required string ConnectionString { get; init; }

    /// <summary>The schema holding pgha's tables in the witness database (witness.schema).</summary>
    public string Schema { get; init; } = "pgha";

    /// <summary>A state snapshot is kept every this many events, so time travel replays at most that many.</summary>
    public int SnapshotEvery { get; init; } = 1000;

    /// <summary>The PostgreSQL NOTIFY channel raised after each committed append.</summary>
    public string NotificationChannel => $"{Schema}_cluster_changed";
}
