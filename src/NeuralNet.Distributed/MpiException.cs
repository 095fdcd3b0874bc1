namespace NeuralNet.Distributed;

/// <summary>An MPI call returned an error code (the communicator uses <c>MPI_ERRORS_RETURN</c>, so errors surface here instead of aborting silently).</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="function">The MPI function, e.g. <c>MPI_Allreduce</c>.</param>
    /// <param name="errorCode">The code it returned.</param>
    /// <param name="description">Open MPI's text for the code.</param>
    public MpiException(string function, int errorCode, string description)
        : base($"{function} failed with MPI error {errorCode}: {description}")
    {
        Function = function;
        ErrorCode = errorCode;
    }

    /// <summary>The MPI function that failed.</summary>
    public string Function { get; }

    /// <summary>The MPI error code it returned.</summary>
    public int ErrorCode { get; }
}
