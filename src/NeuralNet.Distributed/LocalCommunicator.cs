namespace NeuralNet.Distributed;

/// <summary>A group of one rank: every collective is a copy or a no-op. Runs distributed code in a single process without MPI.</summary>
public sealed class LocalCommunicator : Communicator
{
    /// <inheritdoc/>
    public override int Rank => 0;

    /// <inheritdoc/>
    public override int Size => 1;

    /// <inheritdoc/>
    public override void AllReduce<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOperation operation)
    {
        CheckReducible<T>();
        if (send.Length != receive.Length)
            throw new ArgumentException($"LocalCommunicator.AllReduce: send has {send.Length} elements, receive {receive.Length}.", nameof(receive));
        CheckNoOverlap(send, receive, "AllReduce");
        send.CopyTo(receive);
    }

    /// <inheritdoc/>
    public override void AllReduce<T>(Span<T> buffer, ReduceOperation operation) => CheckReducible<T>();

    /// <inheritdoc/>
    public override void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
    {
        if (send.Length != receive.Length)
            throw new ArgumentException($"LocalCommunicator.AllGather: receive must hold 1 × {send.Length} elements but has {receive.Length}.", nameof(receive));
        CheckNoOverlap(send, receive, "AllGather");
        send.CopyTo(receive);
    }

    /// <inheritdoc/>
    public override void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive)
    {
        if (send.Length != receive.Length)
            throw new ArgumentException($"LocalCommunicator.AllToAll: send has {send.Length} elements, receive {receive.Length}.", nameof(receive));
        CheckNoOverlap(send, receive, "AllToAll");
        send.CopyTo(receive);
    }

    /// <inheritdoc/>
    public override void Broadcast<T>(Span<T> buffer, int root = 0) => CheckRank(root);

    /// <inheritdoc/>
    public override void Barrier() { }

    /// <summary>Throws <see cref="CommunicatorAbortedException"/>: with one rank there is nobody else to stop.</summary>
    /// <param name="errorCode">The error code, for the message.</param>
    /// <param name="reason">Why.</param>
    public override void Abort(int errorCode, string reason) =>
        throw new CommunicatorAbortedException($"LocalCommunicator: aborted with code {errorCode}: {reason}");
}
