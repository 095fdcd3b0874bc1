using System.Numerics;

namespace NeuralNet.Evaluation;

/// <summary>How close predictions are to float targets.</summary>
/// <param name="MeanSquaredError">MSE = (1/(N·K)) · Σ (y − t)² over every example and output, as scikit-learn's
/// <c>mean_squared_error</c> and PyTorch's <c>MSELoss</c> (note <see cref="Losses.MseLoss{T}"/> is (1/(2N)) · Σ, a different scale).</param>
/// <param name="MeanAbsoluteError">MAE = (1/(N·K)) · Σ |y − t|.</param>
/// <param name="RSquared">R² = 1 − Σ (y − t)² / Σ (t − mean t)², per output, averaged over the outputs whose targets vary
/// (scikit-learn's <c>r2_score</c> with uniform averaging); 1 is perfect, 0 is as good as predicting the mean. NaN when no
/// output's targets vary.</param>
public readonly record struct RegressionMetrics(double MeanSquaredError, double MeanAbsoluteError, double RSquared)
{
    /// <summary>The metrics of predictions against targets of the same (N, K) shape.</summary>
    /// <exception cref="ArgumentException">The shapes differ or are not (N, K).</exception>
    public static RegressionMetrics Compute<T>(NdArray<T> prediction, NdArray<T> target) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (prediction.Rank != 2 || !target.HasShape(prediction.Shape))
            throw new ArgumentException($"RegressionMetrics: expected a prediction and a target of one (N, K) shape, got {prediction.ShapeString} and {target.ShapeString}.", nameof(target));
        var accumulator = new RegressionAccumulator();
        accumulator.Reset(prediction.Dim(1));
        accumulator.Add<T>(prediction.Data, target.Data, prediction.Dim(0));
        return accumulator.Result();
    }
}

/// <summary>Loss, accuracy and regression metrics of a model on float targets (see <c>Trainer.Evaluate</c> with targets).</summary>
/// <param name="Loss">The mean loss over the examples.</param>
/// <param name="Accuracy">The fraction of examples whose arg-max output equals the arg-max target (meaningful for one-hot or soft
/// labels); NaN for a single output.</param>
/// <param name="Metrics">MSE, MAE and R².</param>
public sealed record TargetEvaluationResult(double Loss, double Accuracy, RegressionMetrics Metrics);

/// <summary>Accumulates <see cref="RegressionMetrics"/> batch by batch without allocating (buffers sized once per output count).</summary>
/// <remarks>Per output it keeps the squared and absolute error sums and the running mean and M2 of the targets (Welford), so R²
/// does not suffer the cancellation of Σt² − (Σt)²/n on targets with a large mean.</remarks>
internal sealed class RegressionAccumulator
{
    private double[] _squared = [], _absolute = [], _mean = [], _m2 = [];
    private long _rows;

    /// <summary>Clears the sums for <paramref name="outputs"/> outputs.</summary>
    public void Reset(int outputs)
    {
        if (_squared.Length != outputs)
        {
            _squared = new double[outputs];
            _absolute = new double[outputs];
            _mean = new double[outputs];
            _m2 = new double[outputs];
        }
        else
        {
            Array.Clear(_squared);
            Array.Clear(_absolute);
            Array.Clear(_mean);
            Array.Clear(_m2);
        }
        _rows = 0;
    }

    /// <summary>Adds <paramref name="rows"/> rows of predictions and targets, each row of <see cref="Reset"/>'s output count.</summary>
    public void Add<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = _squared.Length;
        for (int r = 0; r < rows; r++)
        {
            _rows++;
            double inv = 1.0 / _rows;
            for (int j = 0; j < k; j++)
            {
                double y = double.CreateTruncating(prediction[r * k + j]);
                double t = double.CreateTruncating(target[r * k + j]);
                double e = y - t;
                _squared[j] += e * e;
                _absolute[j] += Math.Abs(e);
                double delta = t - _mean[j];
                _mean[j] += delta * inv;
                _m2[j] += delta * (t - _mean[j]);
            }
        }
    }

    /// <summary>The length of <see cref="Export"/>'s state: the row count and four sums per output.</summary>
    public int StateLength => 1 + 4 * _squared.Length;

    /// <summary>Writes the state (rows, then per output: squared and absolute error sums, target mean and M2) for merging
    /// across data-parallel ranks.</summary>
    public void Export(Span<double> state)
    {
        int k = _squared.Length;
        state[0] = _rows;
        _squared.CopyTo(state.Slice(1, k));
        _absolute.CopyTo(state.Slice(1 + k, k));
        _mean.CopyTo(state.Slice(1 + 2 * k, k));
        _m2.CopyTo(state.Slice(1 + 3 * k, k));
    }

    /// <summary>Replaces the state by the merge of several exported states in order (Chan et al.'s pairwise update of mean
    /// and M2), so every rank gets the same figures for the union of the ranks' rows.</summary>
    public void MergeFrom(ReadOnlySpan<double> states, int count)
    {
        int k = _squared.Length, length = StateLength;
        Reset(k);
        for (int s = 0; s < count; s++)
        {
            var st = states.Slice(s * length, length);
            long rows = (long)st[0];
            if (rows == 0) continue;
            double total = _rows + rows;
            for (int j = 0; j < k; j++)
            {
                _squared[j] += st[1 + j];
                _absolute[j] += st[1 + k + j];
                double mean = st[1 + 2 * k + j], delta = mean - _mean[j];
                _m2[j] += st[1 + 3 * k + j] + delta * delta * _rows * rows / total;
                _mean[j] += delta * rows / total;
            }
            _rows += rows;
        }
    }

    /// <summary>The metrics of everything added since <see cref="Reset"/>; NaN throughout when nothing was added.</summary>
    public RegressionMetrics Result()
    {
        int k = _squared.Length;
        if (_rows == 0 || k == 0) return new RegressionMetrics(double.NaN, double.NaN, double.NaN);
        double squared = 0, absolute = 0, r2 = 0;
        int varying = 0;
        for (int j = 0; j < k; j++)
        {
            squared += _squared[j];
            absolute += _absolute[j];
            if (_m2[j] > 0)
            {
                r2 += 1 - _squared[j] / _m2[j];
                varying++;
            }
        }
        double count = (double)_rows * k;
        return new RegressionMetrics(squared / count, absolute / count, varying == 0 ? double.NaN : r2 / varying);
    }
}
