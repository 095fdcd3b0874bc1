using NeuralNet.Evaluation;

namespace MnistSample.Report;

/// <summary>One epoch (for spark-mlp: one iteration) of training, as plain numbers.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Loss">Mean training loss over the epoch's batches.</param>
/// <param name="Accuracy">Training accuracy over the epoch's batches, in [0, 1].</param>
/// <param name="ValidationLoss">Loss on the validation set after the epoch, or null without one.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation set after the epoch, or null.</param>
/// <param name="LearningRate">The learning rate used during the epoch.</param>
/// <param name="Seconds">Wall-clock seconds of the epoch's training (evaluation excluded).</param>
/// <param name="SamplesPerSecond">Training throughput of the epoch.</param>
public sealed record EpochRecord(
    int Epoch, double Loss, double Accuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, double Seconds, double SamplesPerSecond);

/// <summary>One mini-batch update.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Iteration">1-based global update number.</param>
/// <param name="Loss">The batch's mean loss.</param>
/// <param name="Accuracy">The batch's accuracy in [0, 1].</param>
/// <param name="LearningRate">The learning rate of the update.</param>
public sealed record IterationRecord(int Epoch, int Iteration, double Loss, double Accuracy, double LearningRate);

/// <summary>One test prediction.</summary>
/// <param name="Index">Position in the test set.</param>
/// <param name="Predicted">The arg-max class.</param>
/// <param name="Probability">The model's probability (or output) for the predicted class.</param>
/// <param name="Label">The true class.</param>
public sealed record Prediction(int Index, int Predicted, double Probability, int Label);

/// <summary>A misclassified test image for the report's gallery.</summary>
/// <param name="Prediction">What the model said.</param>
/// <param name="Pixels">28×28 grey levels in [0, 1], row-major.</param>
public sealed record Misclassified(Prediction Prediction, float[] Pixels);

/// <summary>First-layer weights as small images.</summary>
/// <param name="Kind"><c>dense</c> (one 28×28 tile per hidden unit) or <c>conv</c> (one tile per filter and input channel).</param>
/// <param name="Count">Number of tiles.</param>
/// <param name="Height">Tile height.</param>
/// <param name="Width">Tile width.</param>
/// <param name="Values">Count·Height·Width weights, tile after tile, row-major.</param>
public sealed record WeightTiles(string Kind, int Count, int Height, int Width, float[] Values);

/// <summary>Everything a finished run reports, as plain data (no library types), for the console, the JSON files and report.html.</summary>
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
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }

    /// <summary>Per-update history (may be empty).</summary>
    public required IReadOnlyList<IterationRecord> Iterations { get; init; }

    /// <summary>Test accuracy in [0, 1].</summary>
    public required double TestAccuracy { get; init; }

    /// <summary>Mean test loss.</summary>
    public required double TestLoss { get; init; }

    /// <summary>Confusion counts, [true class][predicted class], 10×10.</summary>
    public required int[][] Confusion { get; init; }

    /// <summary>Per-digit metrics.</summary>
    public required IReadOnlyList<ClassMetrics> Classes { get; init; }

    /// <summary>First-layer weights, or null.</summary>
    public WeightTiles? FirstLayer { get; init; }

    /// <summary>Misclassified test images for the gallery (a few dozen at most).</summary>
    public required IReadOnlyList<Misclassified> Gallery { get; init; }

    /// <summary>A sample of test predictions for predictions.csv.</summary>
    public required IReadOnlyList<Prediction> Predictions { get; init; }

    /// <summary>Total training seconds (evaluation excluded).</summary>
    public required double TrainingSeconds { get; init; }

    /// <summary>The command line that produced the run.</summary>
    public required string CommandLine { get; init; }

    /// <summary>Epoch the run resumed after, 0 for a fresh run.</summary>
    public int ResumedFromEpoch { get; init; }

    /// <summary>Seconds per epoch, averaged over the epochs this process trained.</summary>
    public double SecondsPerEpoch => Epochs.Count == 0 ? 0 : Epochs.Where(e => e.Epoch > ResumedFromEpoch).DefaultIfEmpty(Epochs[^1]).Average(e => e.Seconds);

    /// <summary>Training samples per second, averaged over the epochs this process trained.</summary>
    public double SamplesPerSecond
    {
        get
        {
            var own = Epochs.Where(e => e.Epoch > ResumedFromEpoch).ToList();
            double seconds = own.Sum(e => e.Seconds);
            double samples = own.Sum(e => e.Seconds * e.SamplesPerSecond);
            return seconds > 0 ? samples / seconds : 0;
        }
    }

    /// <summary>Training loss of the last epoch.</summary>
    public double FinalLoss => Epochs.Count == 0 ? double.NaN : Epochs[^1].Loss;

    /// <summary>Fewer epochs than this make a smoke run, not a result worth showing as one.</summary>
    public const int FewEpochs = 3;

    /// <summary>The accuracy of guessing: one over the number of classes.</summary>
    public double ChanceAccuracy => Confusion.Length == 0 ? 0 : 1.0 / Confusion.Length;

    /// <summary>How the test accuracy should be read.</summary>
    public ResultVerdict Verdict =>
        TestAccuracy < 2 * ChanceAccuracy ? ResultVerdict.NearChance
        : Epochs.Count < FewEpochs ? ResultVerdict.FewEpochs
        : ResultVerdict.Trained;

    /// <summary>One sentence saying why the result is not to be taken at face value, or null for a trained result.</summary>
    public string? Caveat => Verdict switch
    {
        ResultVerdict.NearChance => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Near chance: {TestAccuracy * 100:0.00}% is close to the {ChanceAccuracy * 100:0}% of guessing among {Confusion.Length} classes; the network has not learned (check the learning rate, the epochs and the data)."),
        ResultVerdict.FewEpochs => $"Only {Plural(Epochs.Count, "epoch")} of training: a quick check, not the preset's result.",
        _ => null,
    };

    /// <summary>"1 epoch", "2 epochs".</summary>
    public static string Plural(int count, string noun) =>
        count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun + "s");

    /// <summary>Per-digit metrics of a confusion matrix [true][predicted], as the library's
    /// <see cref="ConfusionMatrix.PerClass"/> computes them.</summary>
    public static IReadOnlyList<ClassMetrics> MetricsFromConfusion(int[][] confusion)
    {
        var matrix = new ConfusionMatrix(confusion.Length);
        for (int r = 0; r < confusion.Length; r++)
        for (int c = 0; c < confusion[r].Length; c++)
        for (int n = 0; n < confusion[r][c]; n++)
            matrix.Add(r, c);
        return matrix.PerClass();
    }
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
