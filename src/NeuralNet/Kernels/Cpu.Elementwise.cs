using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Kernels;

// Activations, forward and backward, over the kernel threads for large tensors (LeNet-5's first ReLU sees 221k values per
// batch). Each element is computed by the same vector code whichever part it falls in: parts are cut at multiples of 64
// elements and hold at least 64, so only the last part has a remainder, the same one the whole tensor has. Results are
// therefore the same bits for any thread count (tested).
internal static partial class Cpu
{
    /// <summary>Below this many elements an elementwise pass stays on the calling thread: waking a worker costs more.</summary>
    internal const int ElementwiseParallelMinLength = 32 * 1024;

    /// <summary>
    /// The same threshold for sigmoid and tanh forward, whose exp costs about ten times a ReLU per element: from this length
    /// a second thread pays for its wake-up (the 784-64-10 MLP's hidden layer at batch 256 holds 16,384 values).
    /// </summary>
    internal const int TranscendentalParallelMinLength = 8 * 1024;

    /// <summary>The elementwise operations <see cref="RunElementwise{T}"/> dispatches.</summary>
    private enum ElementwiseOp { Relu, Sigmoid, Tanh, ReluBackward, SigmoidBackward, TanhBackward }

    /// <summary>ReLU forward: y[i] = max(x[i], 0) (TensorPrimitives.Max: NaN propagates).</summary>
    /// <exception cref="ArgumentException">y is shorter than x.</exception>
    public static void ReluForward<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        RunElementwise(ElementwiseOp.Relu, y, x, default);

    /// <summary>Sigmoid forward: y[i] = 1 / (1 + e^(−x[i])) (TensorPrimitives.Sigmoid).</summary>
    /// <exception cref="ArgumentException">y is shorter than x.</exception>
    public static void SigmoidForward<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        RunElementwise(ElementwiseOp.Sigmoid, y, x, default);

    /// <summary>Tanh forward: y[i] = tanh(x[i]), within 2.5e-16 relative in double and correctly rounded in float (Cpu.Activations.cs).</summary>
    /// <exception cref="ArgumentException">y is shorter than x.</exception>
    public static void TanhForward<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        RunElementwise(ElementwiseOp.Tanh, y, x, default);

    /// <summary>How many parallel parts a pass over <paramref name="length"/> elements in <paramref name="units"/> units gets.</summary>
    private static int ElementwiseParts(int length, int units) =>
        KernelThreads.PartCount(length, ElementwiseParallelMinLength, units);

    /// <summary>The parts of an activation pass: sigmoid and tanh forward split from <see cref="TranscendentalParallelMinLength"/>.</summary>
    private static int ElementwiseParts(ElementwiseOp op, int length, int units) =>
        KernelThreads.PartCount(length, op is ElementwiseOp.Sigmoid or ElementwiseOp.Tanh ? TranscendentalParallelMinLength : ElementwiseParallelMinLength, units);

    /// <summary>
    /// dst = op(a) for the forward operations, dst = op(a = dy, b = the forward tensor) for the backward ones; large
    /// tensors in parallel parts of whole 64-element blocks.
    /// </summary>
    private static unsafe void RunElementwise<T>(ElementwiseOp op, Span<T> dst, ReadOnlySpan<T> a, ReadOnlySpan<T> b)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool backward = op >= ElementwiseOp.ReluBackward;
        if (backward)
            CheckSameLength(OpName(op), dst.Length, a.Length, b.Length);
        else if (dst.Length < a.Length)
            throw new ArgumentException($"{OpName(op)}: the destination ({dst.Length}) is shorter than the source ({a.Length}).");
        int length = a.Length;
        int parts = ElementwiseParts(op, length, (length + 63) / 64);
        if (parts <= 1)
        {
            ApplyElementwise(op, dst[..length], a, b);
            return;
        }
        fixed (T* pd = dst, pa = a, pb = b)
        {
            var job = ElementwiseJob<T>.ForThisThread;
            job.Set(op, pd, pa, pb, length);
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    /// <summary>The kernel's name for messages (a constant: no allocation on the hot path).</summary>
    private static string OpName(ElementwiseOp op) => op switch
    {
        ElementwiseOp.Relu => nameof(ReluForward),
        ElementwiseOp.Sigmoid => nameof(SigmoidForward),
        ElementwiseOp.Tanh => nameof(TanhForward),
        ElementwiseOp.ReluBackward => nameof(ReluBackward),
        ElementwiseOp.SigmoidBackward => nameof(SigmoidBackward),
        _ => nameof(TanhBackward),
    };

    private static void ApplyElementwise<T>(ElementwiseOp op, Span<T> dst, ReadOnlySpan<T> a, ReadOnlySpan<T> b)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case ElementwiseOp.Relu: TensorPrimitives.Max(a, T.Zero, dst); break;
            case ElementwiseOp.Sigmoid: TensorPrimitives.Sigmoid(a, dst); break;
            case ElementwiseOp.Tanh: TanhSpan(dst, a); break;
            case ElementwiseOp.ReluBackward: ApplyGradient<T, ReluGradient<T>>(dst, a, b); break;
            case ElementwiseOp.SigmoidBackward: ApplyGradient<T, SigmoidGradient<T>>(dst, a, b); break;
            default: ApplyGradient<T, TanhGradient<T>>(dst, a, b); break;
        }
    }

    /// <summary>One elementwise pass cut into contiguous parts of whole 64-element blocks.</summary>
    private sealed unsafe class ElementwiseJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static ElementwiseJob<T>? t_job;
        private ElementwiseOp _op;
        private T* _dst, _a, _b;
        private int _length;

        public static ElementwiseJob<T> ForThisThread => t_job ??= new ElementwiseJob<T>();

        public void Set(ElementwiseOp op, T* dst, T* a, T* b, int length)
        {
            _op = op;
            _dst = dst;
            _a = a;
            _b = b;
            _length = length;
        }

        public void Clear()
        {
            _dst = null;
            _a = null;
            _b = null;
        }

        public override void Execute(int part, int parts)
        {
            (int start, int count) = KernelThreads.PartRange(_length, part, parts, 64);
            if (count <= 0) return;
            bool backward = _op >= ElementwiseOp.ReluBackward;
            ApplyElementwise(_op, new Span<T>(_dst + start, count), new ReadOnlySpan<T>(_a + start, count),
                backward ? new ReadOnlySpan<T>(_b + start, count) : default);
        }
    }
}
