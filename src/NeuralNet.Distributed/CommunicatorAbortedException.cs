namespace NeuralNet.Distributed;

/// <summary>Thrown by an <see cref="InProcessCommunicator"/> collective when another rank of the group called <see cref="Communicator.Abort"/> or failed.</summary>
public sealed class CommunicatorAbortedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which rank aborted and why.</param>
    /// <param name="innerException">The failure that caused the abort, if known.</param>
    public CommunicatorAbortedException(string message, Exception? innerException = null) : base(message, innerException) { }
}
