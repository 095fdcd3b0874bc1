using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules.Activations;

/// <summary>The rectifier, elementwise: y = max(x, 0).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>Any shape (N, …). Backward: dx = dy where x &gt; 0, else 0 — the derivative at exactly 0 is taken as 0
/// (a Heaviside step).</remarks>
public sealed class ReLU<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "ReLU";

    /// <inheritdoc/>
    internal override bool PreservesFiniteness => true;

    /// <inheritdoc/>
    protected override void Apply(NdArray<T> x, NdArray<T> y) => Kernels.Cpu.ReluForward<T>(y.AsSpan(), x.Data);

    /// <inheritdoc/>
    protected override void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx) =>
        Kernels.Cpu.ReluBackward<T>(dx.AsSpan(), dy.Data, x.Data);
}
