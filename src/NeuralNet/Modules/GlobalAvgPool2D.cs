using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>Global average pooling: the mean of each channel's plane, (N, C, H, W) → (N, C).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Forward: y[n, c] = Σ_{i,j} x[n, c, i, j] / (H·W) (PyTorch's <c>nn.AdaptiveAvgPool2d(1)</c> followed by a flatten).
/// Backward: dx[n, c, i, j] = dy[n, c] / (H·W).</para>
/// </remarks>
public sealed class GlobalAvgPool2D<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;
    private int[] _inputShape = [];

    /// <inheritdoc/>
    public override string Name => "GlobalAvgPool2D";

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length != 3)
            throw new ArgumentException($"{Name}: expected per-example input shape (C, H, W), got {NdArray<T>.ShapeToString(inputShape)}.", nameof(inputShape));
        return [inputShape[0]];
    }

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4)
            throw new ArgumentException($"{Name}: expected input of shape (N, C, H, W), got {input.ShapeString}.", nameof(input));
        if (!InputKnownFinite) ModuleChecks.ThrowIfNotFinite(Name, nameof(input), input);
        int n = input.Dim(0), c = input.Dim(1);
        var y = ModuleChecks.Ensure(ref _output, n, [c]);
        Kernels.Cpu.GlobalAvgPoolForward<T>(y.Data, input.Data, n * c, input.Dim(2) * input.Dim(3));
        if (!input.HasShape(_inputShape)) _inputShape = input.ShapeArray();
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(Name, outputGradient, _output);
        var dx = ModuleChecks.Ensure(ref _inputGradient, _inputShape);
        if (ComputeInputGradient)
            Kernels.Cpu.GlobalAvgPoolBackward<T>(dx.Data, outputGradient.Data, _inputShape[0] * _inputShape[1], _inputShape[2] * _inputShape[3]);
        return dx;
    }
}
