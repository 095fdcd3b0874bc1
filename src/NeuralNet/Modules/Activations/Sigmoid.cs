using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules.Activations;

/// <summary>The logistic function, elementwise: y = 1 / (1 + e^(−x)).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>Any shape (N, …). Backward: dx = dy · y · (1 − y).</remarks>
public sealed class Sigmoid<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "Sigmoid";

    /// <inheritdoc/>
    internal override bool PreservesFiniteness => true;

    /// <inheritdoc/>
    protected override void Apply(NdArray<T> x, NdArray<T> y) => Kernels.Cpu.SigmoidForward<T>(y.AsSpan(), x.Data);

    /// <inheritdoc/>
    protected override void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx) =>
        Kernels.Cpu.SigmoidBackward<T>(dx.AsSpan(), dy.Data, y.Data);
}
