using System.Runtime.InteropServices;

namespace NeuralNet.Distributed;

/// <summary>
/// N ranks as threads of one process, sharing memory: the same collectives as <see cref="MpiCommunicator"/>, for tests
/// and for checking that distributed code gives the same results without MPI.
/// </summary>
/// <remarks>
/// <para>Create a group with <see cref="CreateGroup"/> and run each rank on its own thread. Reductions combine the ranks'
/// buffers in rank order, so results are deterministic.</para>
/// <para>When a rank calls <see cref="Abort"/> (or <see cref="Fail"/>), every pending and later collective of every rank
/// throws <see cref="CommunicatorAbortedException"/> naming that rank, so no thread waits forever.</para>
/// </remarks>
public sealed class InProcessCommunicator : Communicator
{
    private readonly Group _group;
    private readonly int _rank;

    private InProcessCommunicator(Group group, int rank)
    {
        _group = group;
        _rank = rank;
    }

    /// <summary>Creates a group of <paramref name="size"/> connected communicators; element r is rank r.</summary>
    /// <param name="size">The number of ranks, at least 1.</param>
    /// <returns>One communicator per rank, each to be used by one thread.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is less than 1.</exception>
    public static InProcessCommunicator[] CreateGroup(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var group = new Group(size);
        var ranks = new InProcessCommunicator[size];
        for (int r = 0; r < size; r++) ranks[r] = new InProcessCommunicator(group, r);
        return ranks;
    }

    /// <summary>Runs <paramref name="body"/> on one thread per rank of a new group and waits for all.</summary>
    /// <param name="size">The number of ranks.</param>
    /// <param name="body">The per-rank program. An exception in one rank aborts the group.</param>
    /// <exception cref="AggregateException">One or more ranks failed; the first failure is the original cause.</exception>
    public static void RunGroup(int size, Action<InProcessCommunicator> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var ranks = CreateGroup(size);
        var errors = new Exception?[size];
        var threads = new Thread[size];
        for (int r = 0; r < size; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try { body(ranks[rank]); }
                catch (Exception e)
                {
                    errors[rank] = e;
                    if (e is not CommunicatorAbortedException) ranks[rank].Fail(e);
                }
            }, 16 * 1024 * 1024) { IsBackground = true, Name = $"rank {rank}" };
            threads[r].Start();
        }
        foreach (var t in threads) t.Join();
        var failures = errors.Where(e => e is not null).Select(e => e!).OrderBy(e => e is CommunicatorAbortedException ? 1 : 0).ToArray();
        if (failures.Length > 0) throw new AggregateException($"InProcessCommunicator: {failures.Length} of {size} ranks failed; first: {failures[0].Message}", failures);
    }

    /// <inheritdoc/>
    public override int Rank => _rank;

    /// <inheritdoc/>
    public override int Size => _group.Size;

    /// <inheritdoc/>
    public override void AllReduce<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOperation operation)
    {
        CheckReducible<T>();
        if (send.Length != receive.Length)
            throw new ArgumentException($"InProcessCommunicator.AllReduce: send has {send.Length} elements, receive {receive.Length}.", nameof(receive));
        CheckNoOverlap(send, receive, "AllReduce");
        var all = new T[send.Length * Size];
        AllGather(send, all);
        Combine<T>(all, receive, operation);
    }

    /// <inheritdoc/>
    public override void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
    {
        CheckReducible<T>();
        var all = new T[buffer.Length * Size];
        AllGather<T>(buffer, all);
        Combine<T>(all, buffer, operation);
    }

    /// <inheritdoc/>
    public override void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
    {
        if ((long)send.Length * Size != receive.Length)
            throw new ArgumentException($"InProcessCommunicator.AllGather: receive must hold {Size} × {send.Length} elements but has {receive.Length}.", nameof(receive));
        CheckNoOverlap(send, receive, "AllGather");
        _group.Slots[_rank] = MemoryMarshal.AsBytes(send).ToArray();
        _group.Wait(_rank);
        var bytes = MemoryMarshal.AsBytes(receive);
        int block = send.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        for (int r = 0; r < Size; r++)
        {
            var slot = _group.Slots[r]!;
            if (slot.Length != block)
                throw new ArgumentException($"InProcessCommunicator.AllGather: rank {r} sent {slot.Length} bytes, rank {_rank} expected {block}.");
            slot.CopyTo(bytes.Slice(r * block, block));
        }
        _group.Wait(_rank);
    }

    /// <inheritdoc/>
    public override void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive)
    {
        if (send.Length != receive.Length || send.Length % Size != 0)
            throw new ArgumentException($"InProcessCommunicator.AllToAll: send and receive must both hold {Size} equal blocks, got {send.Length} and {receive.Length} elements.", nameof(receive));
        CheckNoOverlap(send, receive, "AllToAll");
        _group.Slots[_rank] = MemoryMarshal.AsBytes(send).ToArray();
        _group.Wait(_rank);
        int block = send.Length / Size * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var bytes = MemoryMarshal.AsBytes(receive);
        for (int r = 0; r < Size; r++)
        {
            var slot = _group.Slots[r]!;
            if (slot.Length != block * Size)
                throw new ArgumentException($"InProcessCommunicator.AllToAll: rank {r} sent {slot.Length} bytes, rank {_rank} expected {block * Size}.");
            slot.AsSpan(_rank * block, block).CopyTo(bytes.Slice(r * block, block));
        }
        _group.Wait(_rank);
    }

    /// <inheritdoc/>
    public override void Broadcast<T>(Span<T> buffer, int root = 0)
    {
        CheckRank(root);
        if (_rank == root) _group.Slots[root] = MemoryMarshal.AsBytes((ReadOnlySpan<T>)buffer).ToArray();
        _group.Wait(_rank);
        var data = _group.Slots[root]!;
        var bytes = MemoryMarshal.AsBytes(buffer);
        if (data.Length != bytes.Length)
            throw new ArgumentException($"InProcessCommunicator.Broadcast: root {root} sent {data.Length} bytes, rank {_rank} expected {bytes.Length}.");
        if (_rank != root) data.CopyTo(bytes);
        _group.Wait(_rank);
    }

    /// <inheritdoc/>
    public override void Barrier() => _group.Wait(_rank);

    /// <summary>Aborts the group: every rank's collectives throw <see cref="CommunicatorAbortedException"/>, and so does this call.</summary>
    /// <param name="errorCode">The error code, for the message.</param>
    /// <param name="reason">Why.</param>
    public override void Abort(int errorCode, string reason)
    {
        var e = new CommunicatorAbortedException($"rank {_rank} of {Size} aborted the job with code {errorCode}: {reason}");
        _group.Cancel(e);
        throw e;
    }

    /// <summary>Marks the group failed because this rank threw <paramref name="cause"/>, releasing the other ranks.</summary>
    /// <param name="cause">The failure.</param>
    public void Fail(Exception cause)
    {
        ArgumentNullException.ThrowIfNull(cause);
        _group.Cancel(new CommunicatorAbortedException($"rank {_rank} of {Size} failed: {cause.GetType().Name}: {cause.Message}", cause));
    }

    private static void Combine<T>(ReadOnlySpan<T> all, Span<T> result, ReduceOperation operation) where T : unmanaged
    {
        int n = result.Length;
        int size = all.Length / Math.Max(n, 1);
        if (n == 0) return;
        if (typeof(T) == typeof(float)) CombineTyped(MemoryMarshal.Cast<T, float>(all), MemoryMarshal.Cast<T, float>(result), size, operation);
        else if (typeof(T) == typeof(double)) CombineTyped(MemoryMarshal.Cast<T, double>(all), MemoryMarshal.Cast<T, double>(result), size, operation);
        else if (typeof(T) == typeof(int)) CombineTyped(MemoryMarshal.Cast<T, int>(all), MemoryMarshal.Cast<T, int>(result), size, operation);
        else CombineTyped(MemoryMarshal.Cast<T, long>(all), MemoryMarshal.Cast<T, long>(result), size, operation);
    }

    private static void CombineTyped<T>(ReadOnlySpan<T> all, Span<T> result, int size, ReduceOperation operation)
        where T : System.Numerics.INumber<T>
    {
        int n = result.Length;
        all[..n].CopyTo(result);
        for (int r = 1; r < size; r++)
        {
            var block = all.Slice(r * n, n);
            for (int i = 0; i < n; i++)
                result[i] = operation switch
                {
                    ReduceOperation.Sum => result[i] + block[i],
                    ReduceOperation.Max => T.Max(result[i], block[i]),
                    _ => T.Min(result[i], block[i]),
                };
        }
    }

    private sealed class Group(int size)
    {
        private readonly Barrier _barrier = new(size);
        private readonly CancellationTokenSource _cancel = new();
        private volatile CommunicatorAbortedException? _abort;

        public int Size { get; } = size;
        public byte[]?[] Slots { get; } = new byte[]?[size];

        public void Wait(int rank)
        {
            if (_abort is { } early) throw new CommunicatorAbortedException(early.Message, early.InnerException);
            try
            {
                _barrier.SignalAndWait(_cancel.Token);
            }
            catch (OperationCanceledException)
            {
                var e = _abort!;
                throw new CommunicatorAbortedException($"rank {rank}: the job stopped because {e.Message}", e.InnerException);
            }
        }

        public void Cancel(CommunicatorAbortedException reason)
        {
            lock (this)
            {
                if (_abort is not null) return;
                _abort = reason;
            }
            _cancel.Cancel();
        }
    }
}
