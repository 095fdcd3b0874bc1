using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules.Activations;

/// <summary>The softmax over each row: y[n, j] = e^(x[n, j] − m_n) / Σ_k e^(x[n, k] − m_n), m_n = max_k x[n, k].</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Shape (N, classes). Subtracting the row maximum first keeps every exponent ≤ 0, so logits of ±1000 give
/// finite, correct probabilities.</para>
/// <para>Backward: dx[n, j] = y[n, j] · (dy[n, j] − Σ_k dy[n, k]·y[n, k]).</para>
/// <para>For training a classifier prefer <see cref="Losses.SoftmaxCrossEntropyLoss{T}"/> on the logits: it fuses
/// both steps and is better conditioned.</para>
/// </remarks>
public sealed class Softmax<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "Softmax";

    /// <inheritdoc/>
    protected override void ValidateShape(ReadOnlySpan<int> shape, bool perExample)
    {
        if (shape.Length != (perExample ? 1 : 2))
            throw new ArgumentException(
                perExample
                    ? $"Softmax: expected a per-example input shape (classes), got {NdArray<T>.ShapeToString(shape)}."
                    : $"Softmax: expected input of shape (N, classes), got {NdArray<T>.ShapeToString(shape)}.",
                perExample ? "inputShape" : "input");
    }

    /// <inheritdoc/>
    protected override void Apply(NdArray<T> x, NdArray<T> y)
    {
        int n = x.Dim(0), k = x.Dim(1);
        for (int r = 0; r < n; r++)
            SoftmaxRow(new ReadOnlySpan<T>(x.Data, r * k, k), y.Data.AsSpan(r * k, k));
    }

    /// <inheritdoc/>
    protected override void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx)
    {
        int n = y.Dim(0), k = y.Dim(1);
        for (int r = 0; r < n; r++)
        {
            var yr = new ReadOnlySpan<T>(y.Data, r * k, k);
            var gr = new ReadOnlySpan<T>(dy.Data, r * k, k);
            var dr = dx.Data.AsSpan(r * k, k);
            T dot = TensorPrimitives.Dot(gr, yr);
            TensorPrimitives.Subtract(gr, dot, dr);
            TensorPrimitives.Multiply(dr, yr, dr);
        }
    }

    /// <summary>Stable softmax of one row; shared with the fused loss.</summary>
    internal static void SoftmaxRow(ReadOnlySpan<T> x, Span<T> y)
    {
        T max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        T sum = TensorPrimitives.Sum<T>(y);
        TensorPrimitives.Divide(y, sum, y);
    }
}
