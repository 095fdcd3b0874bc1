using System.Globalization;
using System.Text;

namespace NeuralNet.Training;

/// <summary>The figures of one completed epoch.</summary>
/// <param name="Epoch">The epoch number, from 1, counted across every <c>Fit</c> call of a trainer.</param>
/// <param name="Iterations">The number of optimizer steps in the epoch.</param>
/// <param name="TrainingLoss">The mean of the batch losses of the epoch (each at the weights before its step), weighted by batch size.</param>
/// <param name="TrainingAccuracy">The fraction of training examples of the epoch classified correctly during their forward pass.</param>
/// <param name="ValidationLoss">The mean loss on the validation set at the end of the epoch, or NaN without validation data.</param>
/// <param name="ValidationAccuracy">The accuracy on the validation set at the end of the epoch, or NaN without validation data.</param>
/// <param name="LearningRate">The learning rate used for the epoch's last step.</param>
/// <param name="Elapsed">The wall-clock time from the start of the <c>Fit</c> call to the end of this epoch (validation included).</param>
/// <remarks>When training on float targets, <see cref="TrainingAccuracy"/> and <see cref="ValidationAccuracy"/> compare the arg-max of
/// output and target (NaN for a single output), and <see cref="TrainingRegression"/> and <see cref="ValidationRegression"/> hold
/// MSE, MAE and R²; with class labels those two are null.</remarks>
public readonly record struct EpochRecord(
    int Epoch, int Iterations, double TrainingLoss, double TrainingAccuracy,
    double ValidationLoss, double ValidationAccuracy, double LearningRate, TimeSpan Elapsed)
{
    /// <summary>MSE, MAE and R² of the epoch's training batches, each measured during its forward pass (at the weights before its
    /// step), when training on float targets; null with class labels.</summary>
    public Evaluation.RegressionMetrics? TrainingRegression { get; init; }

    /// <summary>MSE, MAE and R² on the validation set at the end of the epoch, when training on float targets with validation
    /// data; otherwise null.</summary>
    public Evaluation.RegressionMetrics? ValidationRegression { get; init; }
}

/// <summary>The figures of one optimizer step.</summary>
/// <param name="Epoch">The epoch number, from 1.</param>
/// <param name="Iteration">The step number, from 1, counted across every epoch and <c>Fit</c> call.</param>
/// <param name="TrainingLoss">The batch loss (at the weights before the step).</param>
/// <param name="TrainingAccuracy">The fraction of the batch classified correctly.</param>
/// <param name="ValidationLoss">The validation loss when validation ran after this step, else NaN.</param>
/// <param name="ValidationAccuracy">The validation accuracy when validation ran after this step, else NaN.</param>
/// <param name="LearningRate">The learning rate used for this step.</param>
/// <param name="Elapsed">The wall-clock time from the start of the <c>Fit</c> call to the end of this step.</param>
/// <param name="Undone">True when a Bold Driver undo discarded this step's batch (the parameters were restored instead).</param>
public readonly record struct IterationRecord(
    int Epoch, long Iteration, double TrainingLoss, double TrainingAccuracy,
    double ValidationLoss, double ValidationAccuracy, double LearningRate, TimeSpan Elapsed, bool Undone);

/// <summary>The training history: one <see cref="EpochRecord"/> per epoch and one <see cref="IterationRecord"/> per step.</summary>
/// <remarks>A trainer keeps one history across <c>Fit</c> calls, so continued training appends to it.</remarks>
public sealed class History
{
    private readonly List<EpochRecord> _epochs = [];
    private readonly List<IterationRecord> _iterations = [];

    /// <summary>The per-epoch records, oldest first.</summary>
    public IReadOnlyList<EpochRecord> Epochs => _epochs;

    /// <summary>The per-iteration records, oldest first (empty when iteration recording was off).</summary>
    public IReadOnlyList<IterationRecord> Iterations => _iterations;

    /// <summary>The last epoch's record.</summary>
    /// <exception cref="InvalidOperationException">No epoch has completed.</exception>
    public EpochRecord Last => _epochs.Count > 0 ? _epochs[^1] : throw new InvalidOperationException("History: no epoch has completed.");

    /// <summary>Appends an epoch record.</summary>
    public void Add(EpochRecord record) => _epochs.Add(record);

    /// <summary>Appends an iteration record. Amortized allocation-free once <see cref="EnsureIterationCapacity"/> reserved room.</summary>
    public void Add(in IterationRecord record) => _iterations.Add(record);

    /// <summary>Reserves room for <paramref name="additional"/> more iteration records, so recording allocates nothing per step.</summary>
    public void EnsureIterationCapacity(long additional)
    {
        long needed = _iterations.Count + Math.Max(0, additional);
        if (needed > _iterations.Capacity) _iterations.Capacity = (int)Math.Min(needed, Array.MaxLength);
    }

    /// <summary>Removes every record after epoch <paramref name="epoch"/> (used when resuming from a checkpoint).</summary>
    public void TruncateAfter(int epoch)
    {
        _epochs.RemoveAll(e => e.Epoch > epoch);
        _iterations.RemoveAll(i => i.Epoch > epoch);
    }

    /// <summary>The epochs as CSV: a header line, then one line per epoch, invariant culture.</summary>
    /// <remarks>When any epoch has regression metrics (training on float targets), six columns follow: training and validation
    /// MSE, MAE and R² (empty where absent).</remarks>
    public string EpochsToCsv()
    {
        bool regression = _epochs.Exists(e => e.TrainingRegression is not null || e.ValidationRegression is not null);
        var sb = new StringBuilder("epoch,iterations,training_loss,training_accuracy,validation_loss,validation_accuracy,learning_rate,elapsed_seconds");
        sb.Append(regression ? ",training_mse,training_mae,training_r2,validation_mse,validation_mae,validation_r2\n" : "\n");
        foreach (var e in _epochs)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{e.Epoch},{e.Iterations},{F(e.TrainingLoss)},{F(e.TrainingAccuracy)},{F(e.ValidationLoss)},{F(e.ValidationAccuracy)},{F(e.LearningRate)},{F(e.Elapsed.TotalSeconds)}");
            if (regression) sb.Append(',').Append(R(e.TrainingRegression)).Append(',').Append(R(e.ValidationRegression));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string R(Evaluation.RegressionMetrics? m)
        => m is { } v ? $"{F(v.MeanSquaredError)},{F(v.MeanAbsoluteError)},{F(v.RSquared)}" : ",,";

    /// <summary>The iterations as CSV: a header line, then one line per step, invariant culture.</summary>
    public string IterationsToCsv()
    {
        var sb = new StringBuilder("epoch,iteration,training_loss,training_accuracy,validation_loss,validation_accuracy,learning_rate,elapsed_seconds,undone\n");
        foreach (var i in _iterations)
            sb.Append(CultureInfo.InvariantCulture, $"{i.Epoch},{i.Iteration},{F(i.TrainingLoss)},{F(i.TrainingAccuracy)},{F(i.ValidationLoss)},{F(i.ValidationAccuracy)},{F(i.LearningRate)},{F(i.Elapsed.TotalSeconds)},{(i.Undone ? 1 : 0)}\n");
        return sb.ToString();
    }

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
