using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>Max pooling over square windows of NCHW batches, with optional padding that never wins (−∞).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Shapes: x (N, C, H, W) → y (N, C, OH, OW) with OH = (H + 2·padding − K)/stride + 1 and
/// OW = (W + 2·padding − K)/stride + 1 (integer division). Padding (at most K/2, as in PyTorch) counts as −∞, so every
/// maximum is an input element. The kernel and the stride are independent: windows overlap when stride &lt; K and skip
/// inputs when stride &gt; K.</para>
/// <para>Forward: y[n, c, i, j] = max_{p,q &lt; K} x[n, c, i·stride + p, j·stride + q].</para>
/// <para>Backward: each dy goes to the position of its window's maximum only — the first one in row-major order on
/// ties; every other input gets zero (overlapping windows add).</para>
/// </remarks>
public sealed class MaxPool2D<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly string _label;
    private NdArray<T>? _input;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;
    private int[] _argmax = [];

    /// <summary>Creates a max-pooling layer.</summary>
    /// <param name="kernelSize">K, the window side, at least 1.</param>
    /// <param name="stride">The step between windows, at least 1; commonly equal to <paramref name="kernelSize"/>.</param>
    /// <param name="padding">Padding on every side, from 0 to K/2; padded positions never win the maximum.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public MaxPool2D(int kernelSize, int stride, int padding = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(padding, kernelSize / 2);
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        _label = padding == 0 ? $"MaxPool2D(kernel {kernelSize}, stride {stride})" : $"MaxPool2D(kernel {kernelSize}, stride {stride}, padding {padding})";
    }

    /// <summary>The window side K.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The padding on each side (−∞, so it never wins).</summary>
    public int Padding { get; }

    /// <inheritdoc/>
    public override string Name => "MaxPool2D";

    /// <inheritdoc/>
    internal override bool PreservesFiniteness => true;

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
        => ModuleChecks.PoolOutputShape(_label, inputShape, KernelSize, Stride, Padding);

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        ModuleChecks.ThrowIfNotPoolInput(_label, input, KernelSize, Padding);
        if (!InputKnownFinite) ModuleChecks.ThrowIfNotFinite(_label, nameof(input), input);
        int n = input.Dim(0), c = input.Dim(1), h = input.Dim(2), w = input.Dim(3);
        int outH = OutSize(h), outW = OutSize(w);
        var y = ModuleChecks.Ensure(ref _output, n, [c, outH, outW]);
        // Grown, never shrunk: an epoch's smaller last batch uses the front of it instead of allocating.
        if (_argmax.Length < y.Length) _argmax = new int[y.Length];
        if (Padding == 0)
            Kernels.Cpu.MaxPoolForward<T>(y.Data, _argmax.AsSpan(0, y.Length), input.Data, n * c, h, w, KernelSize, Stride, outH, outW);
        else
            Kernels.Cpu.MaxPoolPaddedForward<T>(y.Data, _argmax.AsSpan(0, y.Length), input.Data, n * c, h, w, KernelSize, Stride, Padding, outH, outW);
        _input = input;
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(_label, outputGradient, _output);
        var x = _input!;
        var dx = ModuleChecks.Ensure(ref _inputGradient, x.Shape);
        if (ComputeInputGradient && KernelSize == 2 && Stride == 2 && Padding == 0)
            Kernels.Cpu.MaxPool2x2Backward<T>(dx.Data, outputGradient.Data, _argmax.AsSpan(0, outputGradient.Length), x.Dim(0) * x.Dim(1), x.Dim(2), x.Dim(3));
        else if (ComputeInputGradient)
            Kernels.Cpu.MaxPoolBackward<T>(dx.Data, outputGradient.Data, _argmax.AsSpan(0, outputGradient.Length), x.Dim(0) * x.Dim(1));
        return dx;
    }

    /// <inheritdoc/>
    public override string ToString() => _label;

    private int OutSize(int size) => ModuleChecks.PoolOutSize(size, KernelSize, Stride, Padding);
}
