namespace NeuralNet.Kernels;

// The gather of a shuffled mini-batch: rows of a large data set at random indices, copied into one contiguous batch.
// The data set is far larger than the caches and the rows are a few KB at random addresses, so the copy waits on memory
// at the start of every row (a new page, a new stream for the hardware prefetcher): a random gather runs at about half the speed
// of a contiguous copy of the same bytes. The kernel splits the rows over the kernel threads, so both cores' misses are
// in flight at once. A row's bytes are copied unchanged, so the result is the same bits for any thread count.
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

    /// <summary>The gather of <see cref="GatherRowsNaive{T}"/>, the same bits, with the rows split over the kernel threads.</summary>
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

    /// <summary>Copies rows [first, first + count) of the index list.</summary>
    private static unsafe void GatherRange(byte* destination, byte* source, long rowBytes, int* rows, int first, int count)
    {
        for (int i = first; i < first + count; i++)
            Buffer.MemoryCopy(source + rows[i] * rowBytes, destination + i * rowBytes, rowBytes, rowBytes);
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
