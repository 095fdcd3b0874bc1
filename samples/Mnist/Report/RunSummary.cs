using NeuralNet.Evaluation;
using NeuralNet.Training;

namespace MnistSample.Report;

/// <summary>One epoch (for spark-mlp: one iteration) as the sample reports it: the trainer's record, and the epoch's own
/// training time (the record's <see cref="EpochRecord.Elapsed"/> counts from the start of the <c>Fit</c> call and
/// includes validation).</summary>
/// <param name="Record">The trainer's figures of the epoch (NaN validation figures without a validation set).</param>
/// <param name="Seconds">Wall-clock seconds of the epoch's training (evaluation excluded).</param>
/// <param name="SamplesPerSecond">Training throughput of the epoch.</param>
public sealed record TimedEpoch(EpochRecord Record, double Seconds, double SamplesPerSecond)
{
    /// <summary>The validation loss, or null without a validation set.</summary>
    public double? ValidationLoss => Measured(Record.ValidationLoss);

    /// <summary>The validation accuracy, or null without a validation set.</summary>
    public double? ValidationAccuracy => Measured(Record.ValidationAccuracy);

    private static double? Measured(double value) => double.IsNaN(value) ? null : value;
}

/// <summary>One test prediction: the predictor's class and probability, where the example is and what it really is.</summary>
/// <param name="Index">Position in the test set.</param>
/// <param name="Prediction">The predictor's arg-max class and its probability (or output).</param>
/// <param name="Label">The true class.</param>
public sealed record TestPrediction(int Index, Prediction Prediction, int Label)
{
    /// <summary>The arg-max class.</summary>
    public int Predicted => Prediction.Class;

    /// <summary>The model's probability (or output) for the predicted class.</summary>
    public double Probability => Prediction.Probability;
}

/// <summary>A misclassified test image for the report's gallery.</summary>
/// <param name="Prediction">What the model said.</param>
/// <param name="Pixels">28×28 grey levels in [0, 1], row-major.</param>
public sealed record Misclassified(TestPrediction Prediction, float[] Pixels);

/// <summary>First-layer weights as small images.</summary>
/// <param name="Kind"><c>dense</c> (one 28×28 tile per hidden unit) or <c>conv</c> (one tile per filter and input channel).</param>
/// <param name="Count">Number of tiles.</param>
/// <param name="Height">Tile height.</param>
/// <param name="Width">Tile width.</param>
/// <param name="Values">Count·Height·Width weights, tile after tile, row-major.</param>
public sealed record WeightTiles(string Kind, int Count, int Height, int Width, float[] Values);

/// <summary>Everything a finished run reports, for the console, the JSON files and report.html: the library's records
/// and confusion matrix, with the few figures the sample adds (epoch times, example indices, first-layer tiles).</summary>
public sealed record RunSummary
{
    /// <summary>The preset name.</summary>
    public required string Preset { get; init; }

    /// <summary>The preset's one-line description.</summary>
    public required string Title { get; init; }

    /// <summary>The reference system's reported figure.</summary>
    public required string Reference { get; init; }

    /// <summary>Departures from the reference settings.</summary>
    public required string Notes { get; init; }

    /// <summary>The network, e.g. <c>Dense(784→64) → Sigmoid → Dense(64→10)</c>.</summary>
    public required string Architecture { get; init; }

    /// <summary>The effective settings, name → value, in display order.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; }

    /// <summary>Training images used per epoch (before sampling) and test images evaluated.</summary>
    public required int TrainCount { get; init; }

    /// <summary>Validation images (0 when none).</summary>
    public required int ValidationCount { get; init; }

    /// <summary>Test images evaluated.</summary>
    public required int TestCount { get; init; }

    /// <summary>Per-epoch history.</summary>
    public required IReadOnlyList<TimedEpoch> Epochs { get; init; }

    /// <summary>Per-update history, the trainer's (may be empty).</summary>
    public required IReadOnlyList<IterationRecord> Iterations { get; init; }

    /// <summary>Test accuracy in [0, 1].</summary>
    public required double TestAccuracy { get; init; }

    /// <summary>Mean test loss.</summary>
    public required double TestLoss { get; init; }

    /// <summary>The test set's confusion matrix, [true class, predicted class]; setting it sets <see cref="Classes"/>.</summary>
    public required ConfusionMatrix Confusion
    {
        get => _confusion;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            _confusion = value;
            Classes = value.PerClass();
        }
    }

    private readonly ConfusionMatrix _confusion = null!;

    /// <summary>Per-digit precision, recall and F1: <see cref="ConfusionMatrix.PerClass"/> of <see cref="Confusion"/>.</summary>
    public IReadOnlyList<ClassMetrics> Classes { get; init; } = [];

    /// <summary>First-layer weights, or null.</summary>
    public WeightTiles? FirstLayer { get; init; }

    /// <summary>Misclassified test images for the gallery (a few dozen at most).</summary>
    public required IReadOnlyList<Misclassified> Gallery { get; init; }

    /// <summary>A sample of test predictions for predictions.csv.</summary>
    public required IReadOnlyList<TestPrediction> Predictions { get; init; }

    /// <summary>Total training seconds (evaluation excluded).</summary>
    public required double TrainingSeconds { get; init; }

    /// <summary>The command line that produced the run.</summary>
    public required string CommandLine { get; init; }

    /// <summary>Epoch the run resumed after, 0 for a fresh run.</summary>
    public int ResumedFromEpoch { get; init; }

    /// <summary>Seconds per epoch, averaged over the epochs this process trained.</summary>
    public double SecondsPerEpoch => Epochs.Count == 0 ? 0 : Epochs.Where(e => e.Record.Epoch > ResumedFromEpoch).DefaultIfEmpty(Epochs[^1]).Average(e => e.Seconds);

    /// <summary>Training samples per second, averaged over the epochs this process trained.</summary>
    public double SamplesPerSecond
    {
        get
        {
            var own = Epochs.Where(e => e.Record.Epoch > ResumedFromEpoch).ToList();
            double seconds = own.Sum(e => e.Seconds);
            double samples = own.Sum(e => e.Seconds * e.SamplesPerSecond);
            return seconds > 0 ? samples / seconds : 0;
        }
    }

    /// <summary>Training loss of the last epoch.</summary>
    public double FinalLoss => Epochs.Count == 0 ? double.NaN : Epochs[^1].Record.TrainingLoss;

    /// <summary>Fewer epochs than this make a smoke run, not a result worth showing as one.</summary>
    public const int FewEpochs = 3;

    /// <summary>The accuracy of guessing: one over the number of classes.</summary>
    public double ChanceAccuracy => 1.0 / Confusion.Classes;

    /// <summary>How the test accuracy should be read.</summary>
    public ResultVerdict Verdict =>
        TestAccuracy < 2 * ChanceAccuracy ? ResultVerdict.NearChance
        : Epochs.Count < FewEpochs ? ResultVerdict.FewEpochs
        : ResultVerdict.Trained;

    /// <summary>One sentence saying why the result is not to be taken at face value, or null for a trained result.</summary>
    public string? Caveat => Verdict switch
    {
        ResultVerdict.NearChance => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Near chance: {TestAccuracy * 100:0.00}% is close to the {ChanceAccuracy * 100:0}% of guessing among {Confusion.Classes} classes; the network has not learned (check the learning rate, the epochs and the data)."),
        ResultVerdict.FewEpochs => $"Only {Plural(Epochs.Count, "epoch")} of training: a quick check, not the preset's result.",
        _ => null,
    };

    /// <summary>"1 epoch", "2 epochs".</summary>
    public static string Plural(int count, string noun) =>
        count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun + "s");
}

/// <summary>How a run's test accuracy should be read.</summary>
public enum ResultVerdict
{
    /// <summary>A trained result.</summary>
    Trained,

    /// <summary>Too few epochs to mean much.</summary>
    FewEpochs,

    /// <summary>Barely better than guessing.</summary>
    NearChance,
}
