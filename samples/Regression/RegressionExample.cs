using NeuralNet;
using NeuralNet.Data;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Training;

namespace NeuralNet.Samples.Regression;

/// <summary>The figures of one run of <see cref="RegressionExample.Run"/>, in the units of y.</summary>
/// <param name="TestMse">Mean squared error on the test set.</param>
/// <param name="TestMae">Mean absolute error on the test set.</param>
/// <param name="TestR2">R² on the test set.</param>
/// <param name="NoiseVariance">The variance of the noise added to y: the smallest MSE any model can reach on average.</param>
/// <param name="History">The training history (metrics on standardized targets).</param>
/// <param name="Summary">The model summary.</param>
public sealed record RegressionResult(double TestMse, double TestMae, double TestR2, double NoiseVariance, History History, ModelSummary Summary);

/// <summary>
/// Fits Friedman's function #1 (the regression benchmark of scikit-learn's <c>make_friedman1</c>):
/// y = 10 sin(π x₀ x₁) + 20 (x₂ − 0.5)² + 10 x₃ + 5 x₄ + ε, with x uniform in [0, 1]⁵ and ε ~ N(0, 1).
/// </summary>
/// <remarks>
/// The data are generated from a seed, passed to the library as plain arrays (<see cref="Dataset.FromArrays(float[,], float[], string?)"/>)
/// and the targets standardized with the training set's mean and standard deviation, as one would with real data; the figures
/// are converted back to the units of y. Since ε has variance 1, a test MSE near 1 means the network found the function.
/// </remarks>
public static class RegressionExample
{
    /// <summary>Generates the data, trains a 5-64-64-1 tanh network with MSE, and evaluates it on held-out examples.</summary>
    /// <param name="seed">The seed of the data and of the network.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="log">Receives one line per epoch and the summary; null for silence.</param>
    public static RegressionResult Run(ulong seed = 7, int epochs = 60, Action<string>? log = null)
    {
        const int TrainCount = 4000, TestCount = 1000;
        var random = new RandomGenerator(seed);
        var (trainX, trainY) = Friedman1(TrainCount, random);
        var (testX, testY) = Friedman1(TestCount, random);

        // Standardize the targets with the training set's statistics (the inputs are already in [0, 1]).
        double mean = trainY.Average();
        double std = Math.Sqrt(trainY.Sum(v => (v - mean) * (v - mean)) / TrainCount);
        float[] Scale(float[] y) => y.Select(v => (float)((v - mean) / std)).ToArray();
        var train = Dataset.FromArrays(trainX, Scale(trainY), "friedman1-train");
        var test = Dataset.FromArrays(testX, Scale(testY), "friedman1-test");

        var model = new Sequential<float>([5],
            new Dense<float>(5, 64, random: random), new Tanh<float>(),
            new Dense<float>(64, 64, random: random), new Tanh<float>(),
            new Dense<float>(64, 1, random: random));
        var summary = model.Summary();
        log?.Invoke(summary.ToString());

        var trainer = new Trainer<float>(model, new MseLoss<float>(), new Sgd<float>(model, 0.01, 0.9), random: random);
        var progress = log is null ? null : new EpochLog(log, std);
        trainer.Fit(train, new TrainerOptions { Epochs = epochs, BatchSize = 32 }, test, progress);

        var result = trainer.EvaluateTargets(test).Metrics;
        return new RegressionResult(result.MeanSquaredError * std * std, result.MeanAbsoluteError * std, result.RSquared, 1.0, trainer.History, summary);
    }

    /// <summary>N examples of Friedman #1 with unit-variance Gaussian noise.</summary>
    public static (float[,] X, float[] Y) Friedman1(int count, RandomGenerator random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var x = new float[count, 5];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            for (int j = 0; j < 5; j++) x[i, j] = (float)random.NextDouble();
            y[i] = (float)(10 * Math.Sin(Math.PI * x[i, 0] * x[i, 1]) + 20 * (x[i, 2] - 0.5) * (x[i, 2] - 0.5)
                + 10 * x[i, 3] + 5 * x[i, 4] + random.NextGaussian());
        }
        return (x, y);
    }

    private sealed class EpochLog(Action<string> log, double std) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (!value.EpochCompleted || (value.Epoch % 10 != 0 && value.Epoch != 1)) return;
            // MseLoss is Σ(y − t)²/(2N): twice it is the MSE of one output, times std² in the units of y.
            log(FormattableString.Invariant(
                $"epoch {value.Epoch,3}: training MSE {2 * value.TrainingLoss * std * std:F3}, test MSE {2 * value.ValidationLoss * std * std:F3}"));
        }
    }
}
