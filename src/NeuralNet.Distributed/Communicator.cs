using System.Numerics;
using System.Runtime.InteropServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Distributed;

/// <summary>
/// A group of cooperating processes (ranks) and the collective operations data-parallel training needs:
/// all-reduce, all-gather, broadcast, barrier and abort.
/// </summary>
/// <remarks>
/// <para>Implementations: <see cref="MpiCommunicator"/> (Open MPI, one rank per process, launched by <c>mpirun</c>),
/// <see cref="LocalCommunicator"/> (a single rank, for running distributed code in one process) and
/// <see cref="InProcessCommunicator"/> (N ranks as threads of one process, for tests).</para>
/// <para>Every collective must be called by every rank of the group, in the same order, with the same element count;
/// otherwise the group deadlocks or fails, exactly as in MPI.</para>
/// <para>Supported element types for reductions: <see cref="float"/>, <see cref="double"/>, <see cref="int"/>,
/// <see cref="long"/>. Broadcast and all-gather move any unmanaged type as raw bytes.</para>
/// </remarks>
public abstract class Communicator : IDisposable
{
    private byte[] _outgoing = [];
    private byte[] _incoming = [];

    /// <summary>This process's rank, in [0, <see cref="Size"/>).</summary>
    public abstract int Rank { get; }

    /// <summary>The number of ranks in the group.</summary>
    public abstract int Size { get; }

    /// <summary>True when this rank's collectives may be called from a thread other than the one that created the
    /// communicator, one thread at a time (for MPI: <c>MPI_THREAD_SERIALIZED</c> or more was granted). When false,
    /// <see cref="GradientBucketReducer{T}"/> reduces its buckets on the calling thread, without overlap.</summary>
    public virtual bool CollectivesOnAnyThread => true;

    /// <summary>True on rank 0, the rank that writes checkpoints, history and reports.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Combines <paramref name="send"/> element-wise across all ranks into <paramref name="receive"/> on every rank.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/>, <see cref="int"/> or <see cref="long"/>.</typeparam>
    /// <param name="send">This rank's contribution.</param>
    /// <param name="receive">The combined result, of the same length; must not overlap <paramref name="send"/>.</param>
    /// <param name="operation">The combination.</param>
    /// <remarks>The summation order across ranks is chosen by the implementation (for MPI, by the collective algorithm),
    /// so float sums may differ in the last bits between runs with different rank counts. Use
    /// <see cref="AllReduceSumOrdered{T}(Span{T})"/> when bit-identical results are required.</remarks>
    /// <exception cref="ArgumentException">The lengths differ, the buffers overlap, or <typeparamref name="T"/> is not supported.</exception>
    public abstract void AllReduce<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOperation operation) where T : unmanaged;

    /// <summary>Combines <paramref name="buffer"/> element-wise across all ranks in place (<c>MPI_IN_PLACE</c>).</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/>, <see cref="int"/> or <see cref="long"/>.</typeparam>
    /// <param name="buffer">This rank's contribution on entry; the combined result on return.</param>
    /// <param name="operation">The combination.</param>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not supported.</exception>
    public abstract void AllReduce<T>(Span<T> buffer, ReduceOperation operation) where T : unmanaged;

    /// <summary>Concatenates every rank's <paramref name="send"/> in rank order into <paramref name="receive"/> on every rank.</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="send">This rank's block; the same length on every rank.</param>
    /// <param name="receive">Length <c>Size · send.Length</c>; block r holds rank r's data.</param>
    /// <exception cref="ArgumentException"><paramref name="receive"/> has the wrong length or overlaps <paramref name="send"/>.</exception>
    public abstract void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    /// <summary>Block exchange: block j of <paramref name="send"/> goes to rank j, and block r of <paramref name="receive"/>
    /// comes from rank r (<c>MPI_Alltoall</c>).</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="send"><c>Size</c> equal blocks, one per destination rank.</param>
    /// <param name="receive">The same length; <c>Size</c> blocks, one per source rank.</param>
    /// <exception cref="ArgumentException">The lengths differ, are not a multiple of <see cref="Size"/>, or the buffers overlap.</exception>
    public abstract void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    /// <summary>Copies <paramref name="buffer"/> from rank <paramref name="root"/> to every other rank.</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="buffer">The data on the root; overwritten with it on the other ranks. The same length on every rank.</param>
    /// <param name="root">The sending rank.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank of the group.</exception>
    public abstract void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged;

    /// <summary>Blocks until every rank has reached the barrier.</summary>
    public abstract void Barrier();

    /// <summary>Terminates every rank of the group with <paramref name="errorCode"/> (<c>MPI_Abort</c>). Does not return
    /// for MPI; an <see cref="InProcessCommunicator"/> makes every rank's pending and future collectives throw
    /// <see cref="CommunicatorAbortedException"/> and then throws it itself.</summary>
    /// <param name="errorCode">The exit code of the job.</param>
    /// <param name="reason">Why, for the other ranks' messages.</param>
    public abstract void Abort(int errorCode, string reason);

    /// <summary>Sums <paramref name="buffer"/> across ranks in place, bit-identically on every rank and independent of
    /// the transport: every element is added in rank order, <c>((x₀ + x₁) + x₂) + …</c>.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="buffer">This rank's contribution on entry; the sum on return.</param>
    /// <remarks>A reduce-scatter then an all-gather, both with a fixed order: the buffer is cut into <c>Size</c> blocks of
    /// c = ⌈n / Size⌉ elements (zero-padded); an all-to-all gives rank j block j of every rank; rank j adds them in rank
    /// order; an all-gather returns the summed blocks to everyone. Each rank sends and receives 2(N−1)/N of the buffer,
    /// as a ring all-reduce does, but MPI never chooses the order of the additions, so every rank, every run and every
    /// transport produce the same bits. The scratch buffers are owned by the communicator and reused, so steady-state
    /// calls allocate nothing.</remarks>
    public void AllReduceSumOrdered<T>(Span<T> buffer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = Size;
        if (size == 1 || buffer.IsEmpty) return;
        int n = buffer.Length;
        int block = (n + size - 1) / size;
        int padded = checked(block * size);
        int bytes = checked(padded * Marshal.SizeOf<T>());
        if (_outgoing.Length < bytes)
        {
            _outgoing = new byte[bytes];
            _incoming = new byte[bytes];
        }
        Span<T> outgoing = MemoryMarshal.Cast<byte, T>(_outgoing.AsSpan(0, bytes));
        Span<T> incoming = MemoryMarshal.Cast<byte, T>(_incoming.AsSpan(0, bytes));
        buffer.CopyTo(outgoing);
        outgoing[n..].Clear();
        AllToAll<T>(outgoing, incoming);
        // incoming block r is rank r's copy of block Rank: add them in rank order.
        Span<T> mine = outgoing.Slice(0, block);
        incoming[..block].CopyTo(mine);
        for (int r = 1; r < size; r++)
            TensorPrimitives.Add<T>(mine, incoming.Slice(r * block, block), mine);
        AllGather<T>(mine, incoming);
        incoming[..n].CopyTo(buffer);
    }

    /// <summary>Sums one value across ranks (convenience over <see cref="AllReduce{T}(Span{T}, ReduceOperation)"/>).</summary>
    /// <param name="value">This rank's value.</param>
    /// <returns>The sum over all ranks.</returns>
    public double AllReduceSum(double value)
    {
        Span<double> one = [value];
        AllReduce(one, ReduceOperation.Sum);
        return one[0];
    }

    /// <summary>Sums one count across ranks.</summary>
    /// <param name="value">This rank's count.</param>
    /// <returns>The sum over all ranks.</returns>
    public long AllReduceSum(long value)
    {
        Span<long> one = [value];
        AllReduce(one, ReduceOperation.Sum);
        return one[0];
    }

    /// <summary>Releases the communicator (for MPI: <c>MPI_Finalize</c>).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing) { }

    /// <summary>Throws unless <paramref name="root"/> is a rank of this group.</summary>
    /// <param name="root">The rank to check.</param>
    protected void CheckRank(int root)
    {
        if ((uint)root >= (uint)Size)
            throw new ArgumentOutOfRangeException(nameof(root), root, $"{GetType().Name}: root rank {root} is outside the group of {Size} ranks.");
    }

    /// <summary>Throws unless <typeparamref name="T"/> can be reduced.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    protected static void CheckReducible<T>() where T : unmanaged
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double) && typeof(T) != typeof(int) && typeof(T) != typeof(long))
            throw new ArgumentException($"Communicator: all-reduce supports float, double, int and long elements, not {typeof(T).Name}.");
    }

    /// <summary>Throws when the two buffers share memory.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="a">The first buffer.</param>
    /// <param name="b">The second buffer.</param>
    /// <param name="operation">The operation, for the message.</param>
    protected static void CheckNoOverlap<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, string operation) where T : unmanaged
    {
        if (a.Overlaps(b))
            throw new ArgumentException($"Communicator.{operation}: the send and receive buffers overlap; use the in-place overload instead.");
    }
}
