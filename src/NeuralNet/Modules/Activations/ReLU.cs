using System.Numerics;
using System.Runtime.Intrinsics;
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
    protected override void Apply(Tensor<T> x, Tensor<T> y) => TensorPrimitives.Max<T>(x.Data, T.Zero, y.Data);

    /// <inheritdoc/>
    protected override void ApplyGradient(Tensor<T> x, Tensor<T> y, Tensor<T> dy, Tensor<T> dx)
    {
        ReadOnlySpan<T> xs = x.Data, g = dy.Data;
        var d = dx.AsSpan();
        int i = 0;
        // dx = dy AND (x > 0): the comparison mask is all ones or all zeros per lane, so no branch per element.
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= d.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var mask = Vector512.GreaterThan(Vector512.Create(xs.Slice(i)), Vector512<T>.Zero);
                (Vector512.Create(g.Slice(i)) & mask).CopyTo(d.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= d.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var mask = Vector256.GreaterThan(Vector256.Create(xs.Slice(i)), Vector256<T>.Zero);
                (Vector256.Create(g.Slice(i)) & mask).CopyTo(d.Slice(i));
            }
        }
        for (; i < d.Length; i++) d[i] = xs[i] > T.Zero ? g[i] : T.Zero;
    }
}
