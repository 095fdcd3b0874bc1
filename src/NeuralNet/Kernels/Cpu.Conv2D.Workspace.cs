namespace NeuralNet.Kernels;

/// <summary>
/// How a convolution's batch is cut into chunks and spread over threads: the chunks depend on the batch size only, so
/// which thread runs a chunk never changes a result.
/// </summary>
internal static class ConvolutionChunks
{
    /// <summary>
    /// At most this many chunks of consecutive images: enough to balance two or more threads, few enough that the per-chunk
    /// weight-gradient sums cost little to keep and add.
    /// </summary>
    public const int MaxChunks = 8;

    /// <summary>Below this many multiply-adds per pass the batch stays on the calling thread (waking a worker costs more).</summary>
    public const long ParallelThreshold = 1L << 18;

    /// <summary>Images per chunk (the last chunk may hold fewer).</summary>
    public static int Size(int batch) => (batch + MaxChunks - 1) / MaxChunks;

    /// <summary>The number of chunks of a batch.</summary>
    public static int Count(int batch)
    {
        int size = Size(batch);
        return (batch + size - 1) / size;
    }

    /// <summary>The threads a pass of <paramref name="macs"/> multiply-adds over <paramref name="batch"/> images runs on.</summary>
    public static int Threads(int batch, long macs) =>
        macs >= ParallelThreshold ? Math.Max(1, Math.Min(NeuralNetSettings.MaxDegreeOfParallelism, Count(batch))) : 1;
}

/// <summary>
/// The scratch memory of one convolution layer, sized from its <see cref="ConvolutionPlan"/>: the im2col columns (every
/// image's, kept from a training forward pass for the backward pass, or one slot per chunk), the packed inference panels,
/// the direct kernels' slots, the batched path's per-thread work spaces, the input gradient's columns and the chunks'
/// partial weight gradients. Each buffer grows to the largest batch seen and is then reused: no allocation per step.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class ConvolutionWorkspace<T> where T : unmanaged
{
    private T[] _columns = [];
    private T[] _columnGradients = [];
    private T[] _weightGradientPartials = [];
    private T[] _batchScratch = [];
    private T[] _directScratch = [];
    private T[] _packedColumns = [];

    /// <summary>The im2col columns: image i's at i·colSize when <see cref="ColumnsHoldBatch"/>, else chunk c's at c·colSize
    /// (the batched path: a chunk's images side by side from its first image's offset).</summary>
    public T[] Columns => _columns;

    /// <summary>Whether <see cref="Columns"/> holds every image's columns from the last forward pass (a training pass).</summary>
    public bool ColumnsHoldBatch { get; private set; }

    /// <summary>The per-image path's input-gradient columns, one slot of colSize per chunk.</summary>
    public T[] ColumnGradients => _columnGradients;

    /// <summary>The weight-gradient sums of chunks 1, 2, … (chunk 0 sums into the gradient itself), one weight-sized slot each.</summary>
    public T[] WeightGradientPartials => _weightGradientPartials;

    /// <summary>The direct kernels' scratch, <see cref="DirectLength"/> elements per chunk.</summary>
    public T[] DirectScratch => _directScratch;

    /// <summary>Elements of one chunk's slot in <see cref="DirectScratch"/>.</summary>
    public int DirectLength { get; private set; }

    /// <summary>The packed inference panels, <see cref="PackedLength"/> elements per chunk.</summary>
    public T[] PackedColumns => _packedColumns;

    /// <summary>Elements of one chunk's slot in <see cref="PackedColumns"/>.</summary>
    public int PackedLength { get; private set; }

    /// <summary>Whether the last forward pass wrote packed panels instead of columns.</summary>
    public bool PackedForward { get; private set; }

    /// <summary>The batched path's work spaces, <see cref="BatchScratchLength"/> elements per thread.</summary>
    public T[] BatchScratch => _batchScratch;

    /// <summary>Elements of one thread's work space in <see cref="BatchScratch"/>.</summary>
    public int BatchScratchLength { get; private set; }

    /// <summary>
    /// Sizes the buffers of a forward pass: the direct kernels' slots, or packed panels (inference where the plan allows),
    /// or columns (every image's in training, for the backward pass; one slot per chunk in inference).
    /// </summary>
    /// <param name="plan">The layer's plan.</param>
    /// <param name="batch">N.</param>
    /// <param name="training">A training pass.</param>
    /// <param name="outChannels">OC.</param>
    /// <param name="fanIn">C·K·K.</param>
    /// <param name="height">H of the input.</param>
    /// <param name="width">W of the input.</param>
    /// <param name="kernel">K.</param>
    /// <param name="spatial">OH·OW.</param>
    public void PrepareForward(ConvolutionPlan plan, int batch, bool training, int outChannels, int fanIn, int height, int width, int kernel, int spatial)
    {
        int chunks = ConvolutionChunks.Count(batch);
        PackedForward = false;
        if (plan.Training == ConvolutionPath.Direct)
        {
            // The single-channel kernels read the image in place: no columns, one scratch slot per chunk.
            DirectLength = Cpu.Conv2DSingleChannelScratchLength(outChannels, height, width, kernel, kernel);
            Ensure(ref _directScratch, (long)chunks * DirectLength);
            ColumnsHoldBatch = false;
        }
        else if (!training && plan.PackedInference)
        {
            // Inference: nothing reads the columns but the product, so im2col writes them straight into the GEMM's packed
            // panels, one slot per chunk (a backward pass after this rebuilds plain columns).
            PackedForward = true;
            PackedLength = Cpu.PackedIm2ColLength(fanIn, spatial);
            Ensure(ref _packedColumns, (long)chunks * PackedLength);
            ColumnsHoldBatch = false;
        }
        else
        {
            // Training keeps every image's columns for the weight gradient; inference needs one slot per chunk.
            Ensure(ref _columns, (long)(training ? batch : chunks) * fanIn * spatial);
            ColumnsHoldBatch = training;
        }
    }

    /// <summary>
    /// Sizes the buffers of a backward pass: the batched path's columns for the whole batch (rebuilt when the forward pass
    /// kept none) and one work space per thread; the per-image path's column slots and input-gradient columns; the chunks'
    /// partial weight gradients.
    /// </summary>
    /// <param name="plan">The layer's plan.</param>
    /// <param name="batch">N.</param>
    /// <param name="fanIn">C·K·K.</param>
    /// <param name="outChannels">OC.</param>
    /// <param name="spatial">OH·OW.</param>
    /// <param name="weightLength">Elements of the weight.</param>
    /// <param name="inputGradient">Whether the input gradient is computed.</param>
    /// <param name="threads">The threads the pass runs on.</param>
    public void PrepareBackward(ConvolutionPlan plan, int batch, int fanIn, int outChannels, int spatial, int weightLength, bool inputGradient, int threads)
    {
        int chunks = ConvolutionChunks.Count(batch);
        long colSize = (long)fanIn * spatial;
        if (plan.Training == ConvolutionPath.Batched)
        {
            // Every chunk's columns side by side; after an inference forward pass they are rebuilt in that layout.
            if (!ColumnsHoldBatch) Ensure(ref _columns, batch * colSize);
            BatchScratchLength = checked((int)plan.BatchedScratch(ConvolutionChunks.Size(batch), fanIn, outChannels, spatial));
            Ensure(ref _batchScratch, (long)threads * BatchScratchLength);
        }
        else
        {
            if (inputGradient) Ensure(ref _columnGradients, chunks * colSize);
            if (plan.Training != ConvolutionPath.Direct && !ColumnsHoldBatch) Ensure(ref _columns, chunks * colSize);
        }
        Ensure(ref _weightGradientPartials, (long)(chunks - 1) * weightLength);
    }

    private static void Ensure(ref T[] buffer, long length)
    {
        if (buffer.Length < length) buffer = new T[checked((int)length)];
    }
}
