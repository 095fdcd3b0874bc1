using MnistSample.Report;
using NeuralNet.Evaluation;
using NeuralNet.Training;

namespace NeuralNet.Samples.Tests;

/// <summary>A made-up but plausible <see cref="RunSummary"/>, so report tests need no training.</summary>
internal static class SyntheticRun
{
    public static RunSummary Create(int epochs = 12, string kind = "dense")
    {
        var rng = new Random(7);
        var history = new List<TimedEpoch>();
        var iterations = new List<IterationRecord>();
        int it = 0;
        for (int e = 1; e <= epochs; e++)
        {
            double loss = 0.2 + 1.8 * Math.Exp(-0.35 * e);
            for (int b = 0; b < 20; b++)
                iterations.Add(Iteration(e, ++it, loss * (1 + 0.2 * (rng.NextDouble() - 0.5)), 1 - loss / 2.2, 0.5 * Math.Pow(0.97, e - 1)));
            history.Add(Epoch(e, loss, 1 - loss / 2.2, loss * 1.05, 1 - loss / 2.1, 0.5 * Math.Pow(0.97, e - 1), 1.5, 33_000));
        }

        var confusion = new ConfusionMatrix(10);
        for (int r = 0; r < 10; r++)
        {
            for (int n = 0; n < 950 + r; n++) confusion.Add(r, r);
            for (int n = 0; n < 20 + r; n++) confusion.Add(r, (r + 3) % 10);
            for (int n = 0; n < 5; n++) confusion.Add(r, (r + 7) % 10);
        }

        int tiles = kind == "conv" ? 6 : 64, h = kind == "conv" ? 5 : 28, w = h;
        var weights = new float[tiles * h * w];
        for (int t = 0; t < tiles; t++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    weights[(t * h + y) * w + x] = (float)Math.Sin((x + t) * 0.4) * (float)Math.Cos((y - t) * 0.3);

        var gallery = new List<Misclassified>();
        for (int g = 0; g < 24; g++)
        {
            var px = new float[784];
            // A ring whose radius depends on g, so every digit tile looks different.
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    double d = Math.Sqrt((x - 14) * (x - 14) + (y - 14) * (y - 14));
                    px[y * 28 + x] = (float)Math.Max(0, 1 - Math.Abs(d - (5 + g % 6)) / 2);
                }

            gallery.Add(new Misclassified(new TestPrediction(100 + g, new Prediction(g % 10, 0.55 + 0.01 * g), (g + 3) % 10), px));
        }

        return new RunSummary
        {
            Preset = "mlp",
            Title = "Synthetic run for the report tests",
            Reference = "94.8% test accuracy",
            Notes = "none",
            Architecture = "Dense(784→64) → Sigmoid → Dense(64→10) → Softmax",
            Settings = [new("epochs", epochs.ToString()), new("batch size", "256")],
            TrainCount = 50_000,
            ValidationCount = 5_000,
            TestCount = 10_000,
            Epochs = history,
            Iterations = iterations,
            TestAccuracy = 0.9712,
            TestLoss = 0.1,
            Confusion = confusion,
            FirstLayer = new WeightTiles(kind, tiles, h, w, weights),
            Gallery = gallery,
            Predictions = [new TestPrediction(0, new Prediction(7, 0.99), 7), new TestPrediction(1, new Prediction(2, 0.97), 2)],
            TrainingSeconds = 18,
            CommandLine = "Mnist --preset mlp",
        };
    }

    /// <summary>An epoch as the run reports it: the trainer's record and the epoch's training time.</summary>
    public static TimedEpoch Epoch(int epoch, double loss, double accuracy, double validationLoss, double validationAccuracy,
        double learningRate, double seconds, double samplesPerSecond)
        => new(new EpochRecord(epoch, 0, loss, accuracy, validationLoss, validationAccuracy, learningRate, TimeSpan.Zero), seconds, samplesPerSecond);

    /// <summary>The trainer's record of one update.</summary>
    public static IterationRecord Iteration(int epoch, long iteration, double loss, double accuracy, double learningRate)
        => new(epoch, iteration, loss, accuracy, double.NaN, double.NaN, learningRate, TimeSpan.Zero, false);
}
