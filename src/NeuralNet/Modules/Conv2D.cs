using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NeuralNet.Initialization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules;

/// <summary>A 2-D convolution (cross-correlation, as in PyTorch) over NCHW batches with square kernels.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Shapes: x (N, C, H, W), weight W (OC, C, K, K), bias b (OC), y (N, OC, OH, OW) with
/// OH = (H + 2·padding − K)/stride + 1 and OW = (W + 2·padding − K)/stride + 1 (integer division; rows and columns
/// the last window does not reach are ignored). Padding is zero.</para>
/// <para>Forward: y[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] · x[n, c, i·stride − padding + p, j·stride − padding + q].
/// Computed per image as im2col, giving cols (C·K·K, OH·OW), then one GEMM: y_n = W·cols (+ b per channel row). A float
/// layer with one input channel, stride 1 and no padding (the first layer of an MNIST network) instead reads the image in
/// place with a direct kernel (AVX-512 or AVX2): the same outputs bit for bit, and the weight gradient the same to
/// rounding (summed in another order).</para>
/// <para>Threads: the batch is cut into at most 8 chunks of consecutive images, fixed by the batch size; chunks run in
/// parallel (up to <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> threads) when a pass has at least 2¹⁸
/// multiply-adds. Each chunk sums its images' weight gradients in image order (chunk 0 straight into dW), and the other
/// chunks' sums are then added to dW in chunk order, so results are bit-identical for any thread count.</para>
/// <para>Backward, for dy (N, OC, OH, OW): dW += Σ_n dy_n·cols_nᵀ, db[o] += Σ_{n,i,j} dy[n, o, i, j],
/// dx_n = col2im(Wᵀ·dy_n) (skipped when <see cref="Module{T}.ComputeInputGradient"/> is false).</para>
/// <para>During training the im2col matrices of the whole batch are kept for the backward pass
/// (N·C·K·K·OH·OW elements); inference keeps one image's worth per chunk, written for a float layer straight into the
/// GEMM's packed panels (the same products, bit for bit). The direct single-channel path keeps none.</para>
/// <para>Default initialization: Xavier/Glorot uniform with fan-in C·K·K and fan-out OC·K·K; biases zero.</para>
/// </remarks>
public sealed class Conv2D<T> : Module<T>, IWeightedModule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly string _label;
    private NdArray<T>? _input;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;
    private NdArray<T>? _outputGradient;
    private ChunkJob? _job;
    private bool _direct;            // the plan's single-channel direct kernels instead of im2col + GEMM
    private bool _batched;           // the plan's batched path: one GEMM per chunk of images
    private Kernels.ConvolutionPlan _plan;
    private readonly Kernels.ConvolutionWorkspace<T> _work = new();   // the plan's scratch buffers

    private int _outH, _outW;

    /// <summary>Creates a convolution with zero biases and weights drawn from <paramref name="initializer"/> (Xavier uniform by default).</summary>
    /// <param name="inChannels">C, at least 1.</param>
    /// <param name="outChannels">OC, the number of filters, at least 1.</param>
    /// <param name="kernelSize">K, the side of the square kernel, at least 1.</param>
    /// <param name="stride">The step between windows, at least 1.</param>
    /// <param name="padding">Zero padding added on every side, at least 0.</param>
    /// <param name="bias">Whether each filter has a learned bias.</param>
    /// <param name="random">The source of the initial weights. Null draws from the process-wide
    /// <see cref="RandomGenerator.Default"/> (seeded by <see cref="RandomGenerator.SetDefaultSeed"/>).</param>
    /// <param name="initializer">The weight scheme, drawn from <paramref name="random"/> once per weight in row-major
    /// (OC, C, K, K) order with fan-in C·K·K and fan-out OC·K·K; null for <see cref="Initializer.Default"/> (Xavier
    /// uniform). Pass <see cref="Initializer.Zeros"/> for weights that are about to be overwritten, which draws nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public Conv2D(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true,
        RandomGenerator? random = null, Initializer? initializer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        HasBias = bias;
        Weight = new Parameter<T>("weight", new NdArray<T>(outChannels, inChannels, kernelSize, kernelSize));
        Bias = bias ? new Parameter<T>("bias", new NdArray<T>(outChannels)) : null;
        _parameters = Bias is null ? [Weight] : [Weight, Bias];
        _label = $"Conv2D({inChannels} -> {outChannels}, kernel {kernelSize}, stride {stride}, padding {padding})";
        var scheme = initializer ?? Initializer.Default;
        RandomGenerator.Use(random, r => scheme.Initialize(this, r));
    }

    /// <summary>
    /// Creates a stride-1 convolution with "same" padding: the output has the input's height and width (PyTorch's
    /// <c>padding='same'</c>), padding (K − 1)/2 zeros on every side.
    /// </summary>
    /// <param name="inChannels">C, at least 1.</param>
    /// <param name="outChannels">OC, at least 1.</param>
    /// <param name="kernelSize">K, odd. An even K would need one more padded row and column after the image than before
    /// it (PyTorch pads that way); this layer pads symmetrically only, so an even K throws rather than shift the output.</param>
    /// <param name="bias">Whether each filter has a learned bias.</param>
    /// <param name="random">The source of the initial weights; null draws from <see cref="RandomGenerator.Default"/>.</param>
    /// <param name="initializer">The weight scheme; null for <see cref="Initializer.Default"/> (Xavier uniform).</param>
    /// <returns>A <see cref="Conv2D{T}"/> with <see cref="Stride"/> 1 and <see cref="Padding"/> (K − 1)/2.</returns>
    /// <exception cref="ArgumentException"><paramref name="kernelSize"/> is even.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public static Conv2D<T> Same(int inChannels, int outChannels, int kernelSize, bool bias = true, RandomGenerator? random = null,
        Initializer? initializer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        if (kernelSize % 2 == 0)
            throw new ArgumentException($"Conv2D.Same: kernel size {kernelSize} is even; 'same' padding would be asymmetric " +
                $"({(kernelSize - 1) / 2} before, {kernelSize / 2} after), which Conv2D does not support. Use an odd kernel or explicit padding.",
                nameof(kernelSize));
        return new Conv2D<T>(inChannels, outChannels, kernelSize, 1, (kernelSize - 1) / 2, bias, random, initializer);
    }

    /// <summary>The number of input channels C.</summary>
    public int InChannels { get; }

    /// <summary>The number of output channels (filters) OC.</summary>
    public int OutChannels { get; }

    /// <summary>The kernel side K.</summary>
    public int KernelSize { get; }

    /// <summary>The stride.</summary>
    public int Stride { get; }

    /// <summary>The zero padding on each side.</summary>
    public int Padding { get; }

    /// <summary>Whether the filters have biases.</summary>
    public bool HasBias { get; }

    /// <summary>The filters, shape (OC, C, K, K).</summary>
    public Parameter<T> Weight { get; }

    /// <summary>The biases, shape (OC), or null when <see cref="HasBias"/> is false.</summary>
    public Parameter<T>? Bias { get; }

    /// <summary>C·K·K.</summary>
    public int FanIn => InChannels * KernelSize * KernelSize;

    /// <summary>OC·K·K.</summary>
    public int FanOut => OutChannels * KernelSize * KernelSize;

    /// <inheritdoc/>
    public override string Name => "Conv2D";

    /// <summary>The weight, then the bias if any.</summary>
    public override IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length != 3 || inputShape[0] != InChannels
            || inputShape[1] + 2 * Padding < KernelSize || inputShape[2] + 2 * Padding < KernelSize)
            throw new ArgumentException(
                $"{_label}: expected per-example input shape ({InChannels}, H, W) with H, W ≥ {Math.Max(1, KernelSize - 2 * Padding)}, got {NdArray<T>.ShapeToString(inputShape)}.",
                nameof(inputShape));
        return [OutChannels, OutSize(inputShape[1]), OutSize(inputShape[2])];
    }

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Dim(1) != InChannels
            || input.Dim(2) + 2 * Padding < KernelSize || input.Dim(3) + 2 * Padding < KernelSize)
            throw new ArgumentException(
                $"{_label}: expected input of shape (N, {InChannels}, H, W) with H, W ≥ {Math.Max(1, KernelSize - 2 * Padding)}, got {input.ShapeString}.",
                nameof(input));
        if (!InputKnownFinite) ModuleChecks.ThrowIfNotFinite(_label, nameof(input), input);

        int n = input.Dim(0), h = input.Dim(2), w = input.Dim(3);
        int outH = OutSize(h), outW = OutSize(w);
        var y = ModuleChecks.Ensure(ref _output, n, [OutChannels, outH, outW]);
        _plan = Kernels.Cpu.PlanConvolution<T>(InChannels, OutChannels, KernelSize, Stride, Padding, outH, outW);
        _direct = _plan.Training == Kernels.ConvolutionPath.Direct;

        _work.PrepareForward(_plan, n, training, OutChannels, FanIn, h, w, KernelSize, outH * outW);
        _input = input;
        _outH = outH;
        _outW = outW;
        _batched = training && _plan.Training == Kernels.ConvolutionPath.Batched;
        RunChunks(n, backward: false);
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(_label, outputGradient, _output);
        var x = _input!;
        int n = x.Dim(0), h = x.Dim(2), w = x.Dim(3);
        int spatial = _outH * _outW, chunks = ChunkCount(n);
        ModuleChecks.Ensure(ref _inputGradient, n, [InChannels, h, w]);
        _batched = _plan.Training == Kernels.ConvolutionPath.Batched;
        int wLength = Weight.Value.Length;
        _work.PrepareBackward(_plan, n, FanIn, OutChannels, spatial, wLength, ComputeInputGradient, ThreadCount(n));

        _outputGradient = outputGradient;
        try
        {
            RunChunks(n, backward: true);
        }
        finally
        {
            _outputGradient = null;
        }

        // Chunk 0 accumulated into dW itself; the others' sums are added in chunk order, whatever thread made them.
        Span<T> dW = Weight.Gradient.AsSpan();
        for (int c = 1; c < chunks; c++) TensorPrimitives.Add(dW, _work.WeightGradientPartials.AsSpan((c - 1) * wLength, wLength), dW);
        if (Bias is not null)
        {
            var db = Bias.Gradient.AsSpan();
            T[] dy = outputGradient.Data;
            for (int i = 0; i < n; i++)
            for (int o = 0; o < OutChannels; o++)
                db[o] += TensorPrimitives.Sum(new ReadOnlySpan<T>(dy, (i * OutChannels + o) * spatial, spatial));
        }
        return _inputGradient!;
    }

    private static int ChunkSize(int batch) => Kernels.ConvolutionChunks.Size(batch);

    private static int ChunkCount(int batch) => Kernels.ConvolutionChunks.Count(batch);

    /// <summary>The threads a pass over <paramref name="batch"/> images runs on (one for a small pass).</summary>
    private int ThreadCount(int batch) => Kernels.ConvolutionChunks.Threads(batch, (long)batch * OutChannels * FanIn * _outH * _outW);

    /// <summary>Runs every chunk of the batch, on up to <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> threads.</summary>
    private void RunChunks(int batch, bool backward)
    {
        int chunks = ChunkCount(batch);
        int threads = ThreadCount(batch);
        if (threads <= 1)
        {
            for (int c = 0; c < chunks; c++) RunChunk(c, backward, 0);
            return;
        }
        var job = _job ??= new ChunkJob(this);
        job.Start(backward, chunks);
        Kernels.KernelThreads.Run(job, threads);
    }

    /// <summary>Runs chunk <paramref name="chunk"/> on the thread that runs part <paramref name="part"/> (which owns that part's work space).</summary>
    private void RunChunk(int chunk, bool backward, int part)
    {
        int size = ChunkSize(_input!.Dim(0));
        int first = chunk * size, end = Math.Min(_input.Dim(0), first + size);
        if (_batched)
        {
            if (backward) BackwardChunk(chunk, first, end, _work.BatchScratch.AsSpan(part * _work.BatchScratchLength, _work.BatchScratchLength));
            else ForwardChunk(first, end);
        }
        else if (backward)
        {
            BackwardImages(chunk, first, end);
        }
        else
        {
            ForwardImages(chunk, first, end);
        }
    }

    /// <summary>
    /// The batched forward pass of images [first, end): their columns side by side in the kept column matrix (row stride
    /// images·OH·OW), then y_i = W·cols_i (+ b) per image, the GEMM reading image i's columns in place.
    /// </summary>
    private void ForwardChunk(int first, int end)
    {
        var x = _input!;
        int h = x.Dim(2), w = x.Dim(3), spatial = _outH * _outW, images = end - first;
        int colRows = FanIn, colSize = colRows * spatial, imageSize = InChannels * h * w, ld = images * spatial;
        var cols = _work.Columns.AsSpan(first * colSize, images * colSize);
        Span<T> y = _output!.AsSpan();
        T[] wData = Weight.Value.Data;
        for (int b = 0; b < images; b++)
        {
            Kernels.Cpu.Im2Col<T>(cols[(b * spatial)..], x.Data.AsSpan((first + b) * imageSize, imageSize), InChannels, h, w,
                KernelSize, KernelSize, Stride, Padding, _outH, _outW, colsStride: ld);
            var yi = y.Slice((first + b) * OutChannels * spatial, OutChannels * spatial);
            Kernels.Cpu.Gemm<T>(false, false, OutChannels, spatial, colRows, wData, colRows, cols[(b * spatial)..], ld, yi, spatial, accumulate: false);
            if (Bias is not null)
            {
                T[] bias = Bias.Value.Data;
                for (int o = 0; o < OutChannels; o++)
                {
                    var plane = yi.Slice(o * spatial, spatial);
                    TensorPrimitives.Add(plane, bias[o], plane);
                }
            }
        }
    }

    /// <summary>
    /// The batched backward pass of images [first, end): dy gathered to (OC, images·OH·OW); the chunk's weight gradient
    /// dy·colsᵀ in one GEMM (into dW itself for chunk 0, else into the chunk's partial sum); dcols = Wᵀ·dy in one GEMM,
    /// then col2im per image.
    /// </summary>
    private void BackwardChunk(int chunk, int first, int end, Span<T> scratch)
    {
        var x = _input!;
        int h = x.Dim(2), w = x.Dim(3), spatial = _outH * _outW, images = end - first;
        int colRows = FanIn, colSize = colRows * spatial, imageSize = InChannels * h * w, ld = images * spatial, wLength = Weight.Value.Length;
        var cols = _work.Columns.AsSpan(first * colSize, images * colSize);
        if (!_work.ColumnsHoldBatch)
        {
            // The forward pass ran in inference mode and kept no columns: rebuild this chunk's.
            for (int b = 0; b < images; b++)
                Kernels.Cpu.Im2Col<T>(cols[(b * spatial)..], x.Data.AsSpan((first + b) * imageSize, imageSize), InChannels, h, w,
                    KernelSize, KernelSize, Stride, Padding, _outH, _outW, colsStride: ld);
        }
        var dyRows = scratch.Slice(colSize * images, OutChannels * ld);
        Kernels.Cpu.GatherChunkPlanes<T>(dyRows,
            new ReadOnlySpan<T>(_outputGradient!.Data, first * OutChannels * spatial, images * OutChannels * spatial), images, OutChannels, spatial);
        Span<T> dW = chunk == 0 ? Weight.Gradient.AsSpan() : _work.WeightGradientPartials.AsSpan((chunk - 1) * wLength, wLength);
        Kernels.Cpu.Gemm<T>(false, true, OutChannels, colRows, ld, dyRows, ld, cols, ld, dW, colRows, accumulate: chunk == 0);
        if (!ComputeInputGradient) return;
        var dcols = scratch[..(colSize * images)];
        Kernels.Cpu.Gemm<T>(true, false, colRows, ld, OutChannels, Weight.Value.Data, colRows, dyRows, ld, dcols, ld, accumulate: false);
        Span<T> dx = _inputGradient!.AsSpan();
        for (int b = 0; b < images; b++)
        {
            var dxi = dx.Slice((first + b) * imageSize, imageSize);
            dxi.Clear();
            Kernels.Cpu.Col2Im<T>(dxi, dcols[(b * spatial)..], InChannels, h, w, KernelSize, KernelSize, Stride, Padding, _outH, _outW, colsStride: ld);
        }
    }

    /// <summary>y_i = W·im2col(x_i) (+ b) for images [first, end).</summary>
    private void ForwardImages(int chunk, int first, int end)
    {
        var x = _input!;
        int h = x.Dim(2), w = x.Dim(3), spatial = _outH * _outW;
        int colRows = FanIn, colSize = colRows * spatial, imageSize = InChannels * h * w;
        T[] wData = Weight.Value.Data;
        Span<T> y = _output!.AsSpan();
        for (int i = first; i < end; i++)
        {
            var yi = y.Slice(i * OutChannels * spatial, OutChannels * spatial);
            if (_direct)
            {
                Kernels.Cpu.Conv2DSingleChannel(MemoryMarshal.Cast<T, float>(yi),
                    MemoryMarshal.Cast<T, float>(x.Data.AsSpan(i * imageSize, imageSize)), MemoryMarshal.Cast<T, float>(wData.AsSpan()),
                    MemoryMarshal.Cast<T, float>(_work.DirectScratch.AsSpan(chunk * _work.DirectLength, _work.DirectLength)),
                    OutChannels, h, w, KernelSize, KernelSize);
            }
            else if (_work.PackedForward)
            {
                var packed = MemoryMarshal.Cast<T, float>(_work.PackedColumns.AsSpan(chunk * _work.PackedLength, _work.PackedLength));
                Kernels.Cpu.Im2ColPacked(packed, MemoryMarshal.Cast<T, float>(x.Data.AsSpan(i * imageSize, imageSize)),
                    InChannels, h, w, KernelSize, KernelSize, Stride, Padding, _outH, _outW);
                Kernels.Cpu.GemmPackedB(OutChannels, spatial, colRows, MemoryMarshal.Cast<T, float>(wData.AsSpan()), colRows,
                    packed, MemoryMarshal.Cast<T, float>(yi), spatial);
            }
            else
            {
                var cols = _work.Columns.AsSpan((_work.ColumnsHoldBatch ? i : chunk) * colSize, colSize);
                Kernels.Cpu.Im2Col<T>(cols, x.Data.AsSpan(i * imageSize, imageSize), InChannels, h, w,
                    KernelSize, KernelSize, Stride, Padding, _outH, _outW);
                Kernels.Cpu.Gemm<T>(false, false, OutChannels, spatial, colRows, wData, colRows, cols, spatial, yi, spatial, accumulate: false);
            }
            if (Bias is not null)
            {
                T[] b = Bias.Value.Data;
                for (int o = 0; o < OutChannels; o++)
                {
                    var plane = yi.Slice(o * spatial, spatial);
                    TensorPrimitives.Add(plane, b[o], plane);
                }
            }
        }
    }

    /// <summary>
    /// For images [first, end): the chunk's weight gradient Σ dy_i·cols_iᵀ (into dW itself for chunk 0, else into the
    /// chunk's partial sum, summed over the images in order) and dx_i = col2im(Wᵀ·dy_i).
    /// </summary>
    private void BackwardImages(int chunk, int first, int end)
    {
        var x = _input!;
        int h = x.Dim(2), w = x.Dim(3), spatial = _outH * _outW;
        int colRows = FanIn, colSize = colRows * spatial, imageSize = InChannels * h * w, wLength = Weight.Value.Length;
        T[] wData = Weight.Value.Data, dy = _outputGradient!.Data;
        Span<T> dW = chunk == 0 ? Weight.Gradient.AsSpan() : _work.WeightGradientPartials.AsSpan((chunk - 1) * wLength, wLength);
        Span<T> dx = _inputGradient!.AsSpan();
        for (int i = first; i < end; i++)
        {
            var dyi = new ReadOnlySpan<T>(dy, i * OutChannels * spatial, OutChannels * spatial);
            bool accumulate = chunk == 0 || i > first;
            if (_direct)
            {
                Kernels.Cpu.Conv2DSingleChannelWeightGradient(MemoryMarshal.Cast<T, float>(dW), MemoryMarshal.Cast<T, float>(dyi),
                    MemoryMarshal.Cast<T, float>(x.Data.AsSpan(i * imageSize, imageSize)),
                    MemoryMarshal.Cast<T, float>(_work.DirectScratch.AsSpan(chunk * _work.DirectLength, _work.DirectLength)),
                    OutChannels, h, w, KernelSize, KernelSize, accumulate);
            }
            else
            {
                Span<T> cols;
                if (_work.ColumnsHoldBatch)
                {
                    cols = _work.Columns.AsSpan(i * colSize, colSize);
                }
                else
                {
                    // The forward pass ran in inference mode and kept one slot per chunk: rebuild the columns.
                    cols = _work.Columns.AsSpan(chunk * colSize, colSize);
                    Kernels.Cpu.Im2Col<T>(cols, x.Data.AsSpan(i * imageSize, imageSize), InChannels, h, w,
                        KernelSize, KernelSize, Stride, Padding, _outH, _outW);
                }
                Kernels.Cpu.Gemm<T>(false, true, OutChannels, colRows, spatial, dyi, spatial, cols, spatial, dW, colRows, accumulate);
            }
            if (ComputeInputGradient)
            {
                var dcols = _work.ColumnGradients.AsSpan(chunk * colSize, colSize);
                Kernels.Cpu.Gemm<T>(true, false, colRows, spatial, OutChannels, wData, colRows, dyi, spatial, dcols, spatial, accumulate: false);
                var dxi = dx.Slice(i * imageSize, imageSize);
                dxi.Clear();
                Kernels.Cpu.Col2Im<T>(dxi, dcols, InChannels, h, w, KernelSize, KernelSize, Stride, Padding, _outH, _outW);
            }
        }
    }

    /// <summary>
    /// Every part claims chunks of the current pass one at a time until none are left: a thread the machine deschedules
    /// simply runs fewer chunks. A chunk's result does not depend on which thread runs it.
    /// </summary>
    private sealed class ChunkJob(Conv2D<T> owner) : Kernels.ParallelJob
    {
        private bool _backward;
        private int _chunks;
        private int _next;

        public void Start(bool backward, int chunks)
        {
            _backward = backward;
            _chunks = chunks;
            Volatile.Write(ref _next, 0);
        }

        public override void Execute(int part, int parts)
        {
            for (int c = Interlocked.Increment(ref _next) - 1; c < _chunks; c = Interlocked.Increment(ref _next) - 1)
                owner.RunChunk(c, _backward, part);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => _label;

    private int OutSize(int size) => (size + 2 * Padding - KernelSize) / Stride + 1;
}
