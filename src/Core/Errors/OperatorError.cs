namespace HA.Core.Errors;

/// <summary>
/// A problem the operator caused and can fix (bad config, a port in use, a missing install).
/// Its message is one line that names the problem and says what to do; the CLI prints it as is.
/// </summary>
public class OperatorError(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The process exit code the CLI uses for this error.</summary>
    public virtual int ExitCode => 1;
}

/// <summary>The command line itself is wrong (unknown option, missing value); exit code 2.</summary>
public sealed class UsageError(string message) : OperatorError(message)
{
    public override int ExitCode => 2;
}
