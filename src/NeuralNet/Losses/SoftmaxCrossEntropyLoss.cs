using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Losses;

/// <summary>Softmax followed by cross-entropy, fused and computed on the logits.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>For logits z (N, K) and a target t (N, K), with m_n = max_k z[n, k] and
/// lse_n = m_n + log Σ_k e^(z[n, k] − m_n) (the log-sum-exp, computed without overflow):
/// L = (1/N) · Σ_n Σ_k t[n, k] · (lse_n − z[n, k]). With class-index labels, L = (1/N) · Σ_n (lse_n − z[n, label_n]).</para>
/// <para>Gradient: dL/dz = (p − t)/N with p = softmax(z) (more generally (p·Σ_k t[n, k] − t)/N for targets whose rows do
/// not sum to 1). Logits of ±1000 give a finite loss and gradient.</para>
/// <para>After <c>Forward</c>, <see cref="Probabilities"/> holds p, e.g. for accuracy.</para>
/// </remarks>
public sealed class SoftmaxCrossEntropyLoss<T> : Loss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "SoftmaxCrossEntropyLoss";

    private NdArray<T>? _probabilities;
    private NdArray<T>? _gradient;
    private NdArray<T>? _logSumExp;
    private bool _ready;

    /// <summary>softmax(z) of the last <c>Forward</c> call, (N, K); a buffer owned by the loss.</summary>
    /// <exception cref="InvalidOperationException">No forward call has been made.</exception>
    public NdArray<T> Probabilities => _ready ? _probabilities! : throw new InvalidOperationException($"{Name}: Probabilities is available after Forward.");

    /// <inheritdoc/>
    public override T Forward(NdArray<T> prediction, ReadOnlySpan<int> labels)
    {
        LossChecks.Prediction(Name, prediction);
        int n = prediction.Dim(0), k = prediction.Dim(1);
        LossChecks.Labels(Name, labels, n, k);
        var lse = Softmax(prediction);
        var g = Modules.ModuleChecks.Ensure(ref _gradient, prediction.Shape);
        T invN = T.One / T.CreateChecked(n), sum = T.Zero;
        ReadOnlySpan<T> z = prediction.Data;
        TensorPrimitives.Multiply(_probabilities!.AsSpan(), invN, g.AsSpan());
        var gs = g.AsSpan();
        for (int r = 0; r < n; r++)
        {
            int i = r * k + labels[r];
            sum += lse[r] - z[i];
            gs[i] -= invN;
        }
        _ready = true;
        return sum * invN;
    }

    /// <inheritdoc/>
    public override T Forward(NdArray<T> prediction, NdArray<T> target)
    {
        LossChecks.Prediction(Name, prediction);
        LossChecks.Target(Name, prediction, target);
        int n = prediction.Dim(0), k = prediction.Dim(1);
        var lse = Softmax(prediction);
        var g = Modules.ModuleChecks.Ensure(ref _gradient, prediction.Shape);
        T invN = T.One / T.CreateChecked(n), sum = T.Zero;
        for (int r = 0; r < n; r++)
        {
            var z = new ReadOnlySpan<T>(prediction.Data, r * k, k);
            var t = new ReadOnlySpan<T>(target.Data, r * k, k);
            var p = new ReadOnlySpan<T>(_probabilities!.Data, r * k, k);
            var gr = g.Data.AsSpan(r * k, k);
            T tSum = TensorPrimitives.Sum(t);
            sum += lse[r] * tSum - TensorPrimitives.Dot(t, z);
            // g = (p·Σt − t)/N
            TensorPrimitives.Multiply(p, tSum, gr);
            TensorPrimitives.Subtract(gr, t, gr);
            TensorPrimitives.Multiply(gr, invN, gr);
        }
        _ready = true;
        return sum * invN;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward()
    {
        if (!_ready) throw new InvalidOperationException($"{Name}: Backward was called before Forward.");
        return _gradient!;
    }

    // Fills the probability buffer and returns the per-row log-sum-exp.
    private Span<T> Softmax(NdArray<T> logits)
    {
        int n = logits.Dim(0), k = logits.Dim(1);
        var p = Modules.ModuleChecks.Ensure(ref _probabilities, logits.Shape);
        var lse = Modules.ModuleChecks.Ensure(ref _logSumExp, [n]).AsSpan();
        for (int r = 0; r < n; r++)
        {
            var z = new ReadOnlySpan<T>(logits.Data, r * k, k);
            var pr = p.Data.AsSpan(r * k, k);
            T max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, pr);
            TensorPrimitives.Exp(pr, pr);
            T s = TensorPrimitives.Sum<T>(pr);
            TensorPrimitives.Divide(pr, s, pr);
            lse[r] = max + T.Log(s);
        }
        return lse;
    }
}
