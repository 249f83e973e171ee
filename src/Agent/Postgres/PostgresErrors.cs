using HA.Core.Errors;

namespace HA.Agent.Postgres;

/// <summary>No usable PostgreSQL server installation was found.</summary>
public sealed class PostgresNotFoundError(string message) : OperatorError(message);

/// <summary>A data or node directory pgha may not use (owned by someone else, unreachable).</summary>
public sealed class DataDirectoryError(string message) : OperatorError(message);

/// <summary>A PostgreSQL program (initdb, pg_ctl, pg_basebackup, ...) exited with an error.</summary>
public sealed class PostgresCommandFailed(string message) : OperatorError(message)
{
    public override int ExitCode => 1;
}
