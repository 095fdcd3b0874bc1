using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Losses;

/// <summary>Squared error, halved and averaged over the batch.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>For a prediction y (N, K) and a target t (N, K): L = (1/(2N)) · Σ_n Σ_k (y[n, k] − t[n, k])².</para>
/// <para>Gradient: dL/dy = (y − t)/N, exactly. The ½ makes it the plain residual averaged over the batch, the
/// convention of the squared-error reference system (E = (Y − Y*)², gradient (Y − Y*), averaged over the mini-batch).
/// Note it is the sum over the K outputs, not their mean: divide by K to get PyTorch's <c>MSELoss</c> / 2.</para>
/// <para>With class-index labels the target is the one-hot row of each label.</para>
/// </remarks>
public sealed class MseLoss<T> : Loss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "MseLoss";

    private NdArray<T>? _gradient;
    private bool _ready;

    /// <inheritdoc/>
    public override T Forward(NdArray<T> prediction, ReadOnlySpan<int> labels)
    {
        LossChecks.Prediction(Name, prediction);
        int n = prediction.Dim(0), k = prediction.Dim(1);
        LossChecks.Labels(Name, labels, n, k);
        var g = Modules.ModuleChecks.Ensure(ref _gradient, prediction.Shape);
        prediction.AsSpan().CopyTo(g.AsSpan());
        var gs = g.AsSpan();
        for (int r = 0; r < n; r++) gs[r * k + labels[r]] -= T.One;
        return Finish(g, n);
    }

    /// <inheritdoc/>
    public override T Forward(NdArray<T> prediction, NdArray<T> target)
    {
        LossChecks.Prediction(Name, prediction);
        LossChecks.Target(Name, prediction, target);
        var g = Modules.ModuleChecks.Ensure(ref _gradient, prediction.Shape);
        TensorPrimitives.Subtract<T>(prediction.Data, target.Data, g.Data);
        return Finish(g, prediction.Dim(0));
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward()
    {
        if (!_ready) throw new InvalidOperationException($"{Name}: Backward was called before Forward.");
        return _gradient!;
    }

    private T Finish(NdArray<T> residual, int n)
    {
        T invN = T.One / T.CreateChecked(n);
        T loss = TensorPrimitives.SumOfSquares<T>(residual.Data) * invN / T.CreateChecked(2);
        TensorPrimitives.Multiply(residual.AsSpan(), invN, residual.AsSpan());
        _ready = true;
        return loss;
    }
}
