using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralNet.Kernels;

// The gather of a shuffled mini-batch: rows of a large data set at random indices, copied into one contiguous batch.
// The data set is far larger than the caches and the rows are a few KB at random addresses, so the copy waits on memory
// at the start of every row (a new page to translate, a new stream for the hardware prefetcher): a row-by-row copy runs at
// less than half the speed of a contiguous copy of the same bytes. The kernel starts the pages of the rows a few indices
// ahead with software prefetches, and splits the rows over the kernel threads, so both cores' misses are in flight at
// once. A row's bytes are copied unchanged, so the result is the same bits for any thread count.
internal static partial class Cpu
{
    /// <summary>Reference gather: row i of <paramref name="destination"/> is row rows[i] of <paramref name="source"/>
    /// (rows of <paramref name="rowLength"/> elements).</summary>
    public static void GatherRowsNaive<T>(Span<T> destination, ReadOnlySpan<T> source, int rowLength, ReadOnlySpan<int> rows)
        where T : unmanaged
    {
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < rowLength; j++)
                destination[i * rowLength + j] = source[rows[i] * rowLength + j];
    }

    /// <summary>From this many bytes a gather runs on the kernel threads: below it, waking a worker costs more than the
    /// second core's share of the misses saves.</summary>
    internal const int GatherParallelMinBytes = 64 * 1024;

    /// <summary>The gather of <see cref="GatherRowsNaive{T}"/>, the same bits, with later rows prefetched and the rows split over
    /// the kernel threads.</summary>
    /// <exception cref="ArgumentException">A span is too short for the sizes, or a row index is outside the source.</exception>
    public static unsafe void GatherRows<T>(Span<T> destination, ReadOnlySpan<T> source, int rowLength, ReadOnlySpan<int> rows)
        where T : unmanaged
    {
        if (rowLength < 1 || destination.Length < (long)rows.Length * rowLength)
            throw new ArgumentException($"{nameof(GatherRows)}: {rows.Length} rows of {rowLength} elements need {(long)rows.Length * rowLength} destination elements; got {destination.Length}.");
        int sourceRows = source.Length / rowLength;
        for (int i = 0; i < rows.Length; i++)
            if ((uint)rows[i] >= (uint)sourceRows)
                throw new ArgumentException($"{nameof(GatherRows)}: row index {rows[i]} at position {i} is outside the source's {sourceRows} rows.");
        if (rows.Length == 0) return;
        long rowBytes = (long)rowLength * sizeof(T);
        long totalBytes = rowBytes * rows.Length;
        int parts = totalBytes >= GatherParallelMinBytes ? Math.Min(NeuralNetSettings.MaxDegreeOfParallelism, rows.Length) : 1;
        fixed (T* pd = destination, ps = source)
        fixed (int* pr = rows)
        {
            if (parts <= 1)
            {
                GatherRange((byte*)pd, (byte*)ps, rowBytes, pr, 0, rows.Length);
                return;
            }
            var job = GatherJob.ForThisThread;
            job.Destination = (byte*)pd;
            job.Source = (byte*)ps;
            job.Rows = pr;
            job.RowBytes = rowBytes;
            job.Count = rows.Length;
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job.Destination = job.Source = null;
                job.Rows = null;
            }
        }
    }

    /// <summary>How many rows ahead of the one it copies a part starts the next rows' page walks.</summary>
    internal const int GatherPrefetchRows = 4;

    /// <summary>Copies rows [first, first + count) of the index list.</summary>
    private static unsafe void GatherRange(byte* destination, byte* source, long rowBytes, int* rows, int first, int count)
    {
        int end = first + count;
        for (int i = first; i < end; i++)
        {
            // One prefetch per page of a row a few rows on (and of its last line): the address translation and the first
            // line of every page are then under way when the copy reaches it, and the hardware prefetcher streams the rest.
            // Prefetching every line of the row was measured slower: the prefetches queue behind one another.
            if (Sse.IsSupported && i + GatherPrefetchRows < end)
            {
                byte* ahead = source + rows[i + GatherPrefetchRows] * rowBytes;
                for (long offset = 0; offset < rowBytes; offset += 4096) Sse.Prefetch0(ahead + offset);
                Sse.Prefetch0(ahead + rowBytes - 1);
            }
            CopyRow(destination + i * rowBytes, source + rows[i] * rowBytes, rowBytes);
        }
    }

    /// <summary>Copies one row with 32-byte vectors, inline (a row of a few KB otherwise goes through a call to the native memmove).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyRow(byte* destination, byte* source, long bytes)
    {
        if (!Vector256.IsHardwareAccelerated || bytes < Vector256<byte>.Count)
        {
            Buffer.MemoryCopy(source, destination, bytes, bytes);
            return;
        }
        long j = 0;
        for (; j + 4 * 32 <= bytes; j += 4 * 32)
        {
            var v0 = Vector256.Load(source + j);
            var v1 = Vector256.Load(source + j + 32);
            var v2 = Vector256.Load(source + j + 64);
            var v3 = Vector256.Load(source + j + 96);
            Vector256.Store(v0, destination + j);
            Vector256.Store(v1, destination + j + 32);
            Vector256.Store(v2, destination + j + 64);
            Vector256.Store(v3, destination + j + 96);
        }
        for (; j + 32 <= bytes; j += 32) Vector256.Store(Vector256.Load(source + j), destination + j);
        // The last partial vector: the row's last 32 bytes again, overlapping bytes already copied with the same values.
        if (j < bytes) Vector256.Store(Vector256.Load(source + bytes - 32), destination + bytes - 32);
    }

    private sealed unsafe class GatherJob : ParallelJob
    {
        [ThreadStatic] private static GatherJob? t_job;
        public byte* Destination, Source;
        public int* Rows;
        public long RowBytes;
        public int Count;

        public static GatherJob ForThisThread => t_job ??= new GatherJob();

        public override void Execute(int part, int parts)
        {
            (int first, int count) = KernelThreads.PartRange(Count, part, parts, 1);
            if (count > 0) GatherRange(Destination, Source, RowBytes, Rows, first, count);
        }
    }
}
