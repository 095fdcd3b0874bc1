using System.Globalization;
using System.Numerics;

namespace NeuralNet.Losses;

/// <summary>Cross-entropy on probabilities (e.g. the output of a <see cref="Modules.Activations.Softmax{T}"/>), with clipping.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>For probabilities p (N, K) and a target t (N, K): L = −(1/N) · Σ_n Σ_k t[n, k] · log(clip(p[n, k])), where
/// clip(p) = min(max(p, ε), 1 − ε) keeps the logarithm finite. With class-index labels, L = −(1/N) · Σ_n log(clip(p[n, label_n])).</para>
/// <para>Gradient: dL/dp[n, k] = −t[n, k] / (N · p[n, k]) where ε ≤ p[n, k] ≤ 1 − ε, and exactly 0 where p was clipped
/// (p &lt; ε or p &gt; 1 − ε), since the clipped loss is flat there.</para>
/// <para>Unlike PyTorch's <c>CrossEntropyLoss</c>, which takes logits, this one takes probabilities. So that logits passed by
/// mistake fail loudly instead of training badly, every prediction row must look like a probability vector: no value below 0
/// and a row sum within <see cref="RowSumTolerance"/> of 1; otherwise <c>Forward</c> throws an <see cref="ArgumentException"/>
/// that names the row and points to <see cref="SoftmaxCrossEntropyLoss{T}"/>. The check reads each row once and allocates nothing.</para>
/// <para>Prefer <see cref="SoftmaxCrossEntropyLoss{T}"/> on logits when the last layer would be a softmax.</para>
/// </remarks>
public sealed class CrossEntropyLoss<T> : Loss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Name => "CrossEntropyLoss";

    private readonly T _low, _high;
    private NdArray<T>? _gradient;
    private bool _ready;

    /// <summary>Creates the loss.</summary>
    /// <param name="epsilon">ε, the clipping margin, in (0, 0.5). One reference system uses 1e-5.</param>
    /// <exception cref="ArgumentOutOfRangeException">ε is outside (0, 0.5).</exception>
    public CrossEntropyLoss(double epsilon = 1e-7)
    {
        if (!(epsilon > 0 && epsilon < 0.5))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "CrossEntropyLoss: epsilon must be in (0, 0.5).");
        Epsilon = epsilon;
        _low = T.CreateChecked(epsilon);
        _high = T.CreateChecked(1.0 - epsilon);
        if (!(_high < T.One))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon,
                $"CrossEntropyLoss: epsilon {epsilon.ToString(CultureInfo.InvariantCulture)} is too small for {typeof(T).Name}: 1 − ε rounds to 1.");
    }

    /// <summary>The clipping margin ε.</summary>
    public double Epsilon { get; }

    /// <summary>How far a prediction row's sum may be from 1 before the row is rejected as not a probability vector: 1e-2,
    /// far above the rounding of a float softmax over thousands of classes and far below what logits sum to by chance.</summary>
    public const double RowSumTolerance = 1e-2;

    /// <inheritdoc/>
    public override T Forward(NdArray<T> prediction, ReadOnlySpan<int> labels)
    {
        LossChecks.Prediction(Name, prediction);
        int n = prediction.Dim(0), k = prediction.Dim(1);
        LossChecks.Labels(Name, labels, n, k);
        CheckProbabilities(prediction);
        var g = Modules.ModuleChecks.Ensure(ref _gradient, prediction.Shape);
        g.Clear();
        ReadOnlySpan<T> p = prediction.Data;
        var gs = g.AsSpan();
        T invN = T.One / T.CreateChecked(n), sum = T.Zero;
        for (int r = 0; r < n; r++)
        {
            int i = r * k + labels[r];
            sum += T.Log(Clip(p[i]));
            gs[i] = Inside(p[i]) ? -invN / p[i] : T.Zero;
        }
        _ready = true;
        return -sum * invN;
    }

    /// <inheritdoc/>
    public override T Forward(NdArray<T> prediction, NdArray<T> target)
    {
        LossChecks.Prediction(Name, prediction);
        LossChecks.Target(Name, prediction, target);
        CheckProbabilities(prediction);
        var g = Modules.ModuleChecks.Ensure(ref _gradient, prediction.Shape);
        ReadOnlySpan<T> p = prediction.Data, t = target.Data;
        var gs = g.AsSpan();
        T invN = T.One / T.CreateChecked(prediction.Dim(0)), sum = T.Zero;
        for (int i = 0; i < p.Length; i++)
        {
            if (t[i] == T.Zero)
            {
                gs[i] = T.Zero;
                continue;
            }
            sum += t[i] * T.Log(Clip(p[i]));
            gs[i] = Inside(p[i]) ? -t[i] * invN / p[i] : T.Zero;
        }
        _ready = true;
        return -sum * invN;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward()
    {
        if (!_ready) throw new InvalidOperationException($"{Name}: Backward was called before Forward.");
        return _gradient!;
    }

    private void CheckProbabilities(NdArray<T> prediction)
    {
        int n = prediction.Dim(0), k = prediction.Dim(1);
        ReadOnlySpan<T> p = prediction.Data;
        T tolerance = T.CreateChecked(RowSumTolerance);
        for (int r = 0; r < n; r++)
        {
            var row = p.Slice(r * k, k);
            T min = System.Numerics.Tensors.TensorPrimitives.Min(row);
            T sum = System.Numerics.Tensors.TensorPrimitives.Sum(row);
            if (min < T.Zero || T.Abs(sum - T.One) > tolerance)
                throw new ArgumentException(
                    $"{Name}: prediction row {r} is not a probability vector (minimum {Modules.ModuleChecks.Format(min)}, sum {Modules.ModuleChecks.Format(sum)}): " +
                    "CrossEntropyLoss takes probabilities, such as the output of a Softmax layer. For raw scores (logits), as PyTorch's CrossEntropyLoss takes, " +
                    "use SoftmaxCrossEntropyLoss instead.", nameof(prediction));
        }
    }

    private T Clip(T p) => T.Min(T.Max(p, _low), _high);

    private bool Inside(T p) => p >= _low && p <= _high;
}
