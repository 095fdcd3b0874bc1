using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules.Activations;

/// <summary>The hyperbolic tangent, elementwise: y = tanh(x).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>Any shape (N, …). Backward: dx = dy · (1 − y²).</remarks>
public sealed class Tanh<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "Tanh";

    /// <inheritdoc/>
    internal override bool PreservesFiniteness => true;

    /// <inheritdoc/>
    protected override void Apply(NdArray<T> x, NdArray<T> y) => Kernels.Cpu.TanhForward<T>(y.AsSpan(), x.Data);

    /// <inheritdoc/>
    protected override void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx) =>
        Kernels.Cpu.TanhBackward<T>(dx.AsSpan(), dy.Data, y.Data);
}
