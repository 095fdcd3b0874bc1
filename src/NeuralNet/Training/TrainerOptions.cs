using System.Globalization;

namespace NeuralNet.Training;

/// <summary>Which figure a loss-driven schedule or a callback monitors.</summary>
public enum TrainingMetric
{
    /// <summary>The validation loss when validation data exist, else the training loss.</summary>
    Auto,

    /// <summary>The mean training loss (of the epoch, or of the batch for per-iteration schedules).</summary>
    TrainingLoss,

    /// <summary>The validation loss (requires validation data).</summary>
    ValidationLoss,

    /// <summary>The training accuracy (higher is better).</summary>
    TrainingAccuracy,

    /// <summary>The validation accuracy (higher is better; requires validation data).</summary>
    ValidationAccuracy,
}

/// <summary>The settings of one <c>Trainer.Fit</c> call.</summary>
public sealed record TrainerOptions
{
    /// <summary>The number of epochs to run in this call (continued training adds to the trainer's epoch count). Default 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Examples per optimizer step on each rank. The last batch of an epoch may be smaller. Under a data-parallel
    /// <see cref="Trainer{T}.Strategy"/> of N ranks this is each rank's batch B and every step trains on a global batch of N·B.
    /// Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Shuffle the training examples every epoch from the trainer's <see cref="RandomGenerator"/>. Default true.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// The fraction of the training set each epoch trains on, in (0, 1]. Below 1, every epoch draws a fresh random sample of
    /// round(fraction·N) examples without replacement (the Spark reference's 70% sample per iteration: fraction 0.7 with a
    /// batch size equal to the sample size). Default 1.
    /// </summary>
    public double SampleFraction { get; init; } = 1.0;

    /// <summary>
    /// The fraction of the training data held out for validation when no validation set is given, in [0, 1). The LAST
    /// ⌊fraction·N⌋ examples are held out (deterministic, no randomness consumed). Default 0.
    /// </summary>
    public double ValidationSplit { get; init; }

    /// <summary>Also evaluate the validation set every this many iterations (0: only at the end of each epoch). Default 0.</summary>
    public int ValidationEveryIterations { get; init; }

    /// <summary>Record one <see cref="IterationRecord"/> per step in the history. Default true.</summary>
    public bool RecordIterations { get; init; } = true;

    /// <summary>The batch size used to evaluate validation data. Default 1000.</summary>
    public int EvaluationBatchSize { get; init; } = 1000;

    /// <summary>Also report progress every this many iterations (0: only once per epoch). Default 0.</summary>
    public int ProgressEveryIterations { get; init; }

    /// <summary>The loss a loss-driven schedule (Bold Driver) monitors at epoch interval. Per-iteration schedules always use
    /// the batch loss. Default <see cref="TrainingMetric.Auto"/>.</summary>
    public TrainingMetric ScheduleMonitor { get; init; } = TrainingMetric.Auto;

    /// <summary>Clip the gradients to this global L2 norm between the backward pass and the optimizer step
    /// (<see cref="Optimization.GradientClipping.ClipByNorm{T}"/>; torch's <c>clip_grad_norm_</c>), or null for no clipping.
    /// The norm before clipping is <see cref="Trainer{T}.LastGradientNorm"/>. Default null.</summary>
    public double? ClipGradientNorm { get; init; }

    /// <summary>Clamp every gradient element to [−value, value] between the backward pass and the optimizer step, before any
    /// norm clipping (<see cref="Optimization.GradientClipping.ClipByValue{T}"/>), or null for none. Default null.</summary>
    public double? ClipGradientValue { get; init; }

    /// <summary>
    /// Random affine augmentation of every training batch (images (N, C, H, W) only), drawn from the trainer's generator
    /// after the shuffle, a fresh transform per example per epoch; null (the default) trains on the images as they are.
    /// Validation and evaluation never see it.
    /// </summary>
    public NeuralNet.Data.ImageAugmentation? Augmentation { get; init; }

    /// <summary>The examples one epoch trains on, out of <paramref name="trainingCount"/>: all of them, or
    /// <see cref="SampleFraction"/> of them rounded (at least 1).</summary>
    /// <param name="trainingCount">The training examples available (after any validation split), at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="trainingCount"/> is less than 1.</exception>
    public int SamplesPerEpoch(int trainingCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trainingCount, 1);
        return SampleFraction >= 1 ? trainingCount : Math.Max(1, (int)Math.Round(SampleFraction * trainingCount));
    }

    /// <summary>The mini-batches of one epoch over <paramref name="trainingCount"/> examples: the last batch may be
    /// smaller, and a global batch above the epoch's samples gives one batch.</summary>
    /// <param name="trainingCount">The training examples available (after any validation split), at least 1.</param>
    /// <param name="ranks">The ranks of a data-parallel strategy (<see cref="TrainingStrategy{T}.WorldSize"/>), each training
    /// on <see cref="BatchSize"/> examples of a global batch of <c>ranks · BatchSize</c>; 1 for one process.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="trainingCount"/> or <paramref name="ranks"/> is less than 1.</exception>
    public int BatchesPerEpoch(int trainingCount, int ranks = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        int samples = SamplesPerEpoch(trainingCount);
        int batchSize = (int)Math.Min((long)BatchSize * ranks, samples);
        return (samples + batchSize - 1) / batchSize;
    }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it and its value.</exception>
    public void Validate()
    {
        if (Epochs < 0) throw Bad(nameof(Epochs), Epochs, "at least 0");
        if (BatchSize < 1) throw Bad(nameof(BatchSize), BatchSize, "at least 1");
        if (!(SampleFraction > 0 && SampleFraction <= 1)) throw Bad(nameof(SampleFraction), SampleFraction, "in (0, 1]");
        if (!(ValidationSplit >= 0 && ValidationSplit < 1)) throw Bad(nameof(ValidationSplit), ValidationSplit, "in [0, 1)");
        if (ValidationEveryIterations < 0) throw Bad(nameof(ValidationEveryIterations), ValidationEveryIterations, "at least 0");
        if (EvaluationBatchSize < 1) throw Bad(nameof(EvaluationBatchSize), EvaluationBatchSize, "at least 1");
        if (ProgressEveryIterations < 0) throw Bad(nameof(ProgressEveryIterations), ProgressEveryIterations, "at least 0");
        if (ClipGradientNorm is { } norm && !(double.IsFinite(norm) && norm > 0)) throw Bad(nameof(ClipGradientNorm), norm, "positive and finite (or null)");
        if (ClipGradientValue is { } value && !(double.IsFinite(value) && value > 0)) throw Bad(nameof(ClipGradientValue), value, "positive and finite (or null)");
        Augmentation?.Validate();
        if (ScheduleMonitor is TrainingMetric.TrainingAccuracy or TrainingMetric.ValidationAccuracy)
            throw new ArgumentException($"TrainerOptions: ScheduleMonitor must be a loss (Auto, TrainingLoss or ValidationLoss), got {ScheduleMonitor}.", nameof(ScheduleMonitor));
    }

    private static ArgumentException Bad(string name, double value, string expected) =>
        new($"TrainerOptions: {name} must be {expected}, got {value.ToString(CultureInfo.InvariantCulture)}.", name);
}

/// <summary>A progress report from the trainer.</summary>
/// <param name="Epoch">The current epoch, from 1.</param>
/// <param name="TotalEpochs">The last epoch this <c>Fit</c> call will run.</param>
/// <param name="Iteration">The number of optimizer steps so far (all epochs).</param>
/// <param name="BatchInEpoch">The batch just finished within the epoch, from 1.</param>
/// <param name="BatchesPerEpoch">The number of batches per epoch.</param>
/// <param name="TrainingLoss">The running mean training loss of the epoch so far.</param>
/// <param name="TrainingAccuracy">The running training accuracy of the epoch so far.</param>
/// <param name="ValidationLoss">The last validation loss, or NaN.</param>
/// <param name="ValidationAccuracy">The last validation accuracy, or NaN.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="Elapsed">Time since the start of the <c>Fit</c> call.</param>
/// <param name="EpochCompleted">True for the report made at the end of an epoch.</param>
public readonly record struct TrainingProgress(
    int Epoch, int TotalEpochs, long Iteration, int BatchInEpoch, int BatchesPerEpoch,
    double TrainingLoss, double TrainingAccuracy, double ValidationLoss, double ValidationAccuracy,
    double LearningRate, TimeSpan Elapsed, bool EpochCompleted);
