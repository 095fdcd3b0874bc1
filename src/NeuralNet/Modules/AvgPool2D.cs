using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>Average pooling over square windows of NCHW batches, with optional zero padding (PyTorch's <c>nn.AvgPool2d</c>).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Shapes: x (N, C, H, W) → y (N, C, OH, OW), OH = (H + 2·padding − K)/stride + 1, likewise OW (integer division).</para>
/// <para>Forward: y = (Σ of the window's inputs, padding counting as 0) / K² — PyTorch's defaults count_include_pad=True
/// and ceil_mode=False. Backward: each dy/K² is added to every input of its window.</para>
/// </remarks>
public sealed class AvgPool2D<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly string _label;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;
    private int[] _inputShape = [];

    /// <summary>Creates an average-pooling layer.</summary>
    /// <param name="kernelSize">K, the window side, at least 1.</param>
    /// <param name="stride">The step between windows, at least 1; null means <paramref name="kernelSize"/> (PyTorch's default).</param>
    /// <param name="padding">Zero padding on every side, from 0 to K/2.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public AvgPool2D(int kernelSize, int? stride = null, int padding = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride ?? kernelSize, 1, nameof(stride));
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(padding, kernelSize / 2);
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        _label = $"AvgPool2D(kernel {kernelSize}, stride {Stride}, padding {padding})";
    }

    /// <summary>The window side K.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The zero padding on each side.</summary>
    public int Padding { get; }

    /// <summary>Always true: padded positions count in the divisor K² (PyTorch's default).</summary>
    public bool CountIncludePad => true;

    /// <inheritdoc/>
    public override string Name => "AvgPool2D";

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
        var y = ModuleChecks.Ensure(ref _output, n, [c, OutSize(h), OutSize(w)]);
        Kernels.Cpu.AvgPoolForward<T>(y.Data, input.Data, n * c, h, w, KernelSize, Stride, Padding, OutSize(h), OutSize(w));
        if (!input.HasShape(_inputShape)) _inputShape = input.ShapeArray();
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(_label, outputGradient, _output);
        var dx = ModuleChecks.Ensure(ref _inputGradient, _inputShape);
        int n = _inputShape[0], c = _inputShape[1], h = _inputShape[2], w = _inputShape[3];
        if (ComputeInputGradient)
            Kernels.Cpu.AvgPoolBackward<T>(dx.Data, outputGradient.Data, n * c, h, w, KernelSize, Stride, Padding, OutSize(h), OutSize(w));
        return dx;
    }

    /// <inheritdoc/>
    public override string ToString() => _label;

    private int OutSize(int size) => ModuleChecks.PoolOutSize(size, KernelSize, Stride, Padding);
}
