using System.Text.RegularExpressions;
using NeuralNet.Data;
using NeuralNet.Evaluation;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Tests.TestSupport;
using NeuralNet.Training;

namespace NeuralNet.Tests;

/// <summary>
/// The README's quick-start sample: the code between the markers below must be the README's block line for line
/// (checked by <see cref="ReadmeQuickStart_IsTheCodeThisTestRuns"/>), and it must reach the accuracy the README states.
/// </summary>
public class ReadmeSampleTests
{
    [Fact]
    public void ReadmeQuickStart_TrainsToAtLeast95Percent()
    {
        string saved = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(RepoPaths.Root);
        try
        {
            // --- README quick start ---
            MnistData mnist = Mnist.Load("data/mnist");                 // the bundled IDX files, scaled to [0, 1]
            var random = new RandomGenerator(seed: 42);                 // every random number comes from here

            var model = new Sequential<float>([784],
                new Dense<float>(784, 64, random: random), new ReLU<float>(),
                new Dense<float>(64, 10, random: random));              // logits; the loss applies the softmax

            var sgd = new Sgd<float>(model, learningRate: 0.1);
            _ = new StepDecaySchedule(sgd, gamma: 0.97);                // attached to sgd: ×0.97 after every epoch
            var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), sgd, random);
            History history = trainer.Fit(mnist.Train, new TrainerOptions { Epochs = 2, BatchSize = 32 });

            EvaluationResult result = trainer.Evaluate(mnist.Test);
            Console.WriteLine($"Test accuracy: {result.Accuracy:P2}");  // about 96 %
            // --- end ---

            result.Accuracy.Should().BeGreaterThanOrEqualTo(0.95, "the README promises about 96 % after two epochs");
            result.ConfusionMatrix.Total.Should().Be(10_000);
            history.Epochs.Should().HaveCount(2);
        }
        finally
        {
            Directory.SetCurrentDirectory(saved);
        }
    }

    [Fact]
    public void ReadmeOwnData_Runs()
    {
        // --- README your own data ---
        var random = new RandomGenerator(seed: 1);
        float[,] x = { { 0.1f, 0.7f }, { 0.9f, 0.2f }, { 0.4f, 0.4f }, { 0.8f, 0.9f } };
        Dataset classes = Dataset.FromArrays(x, new[] { 0, 1, 0, 1 });          // labels; ClassCount 2 (largest + 1)
        Dataset values  = Dataset.FromArrays(x, new[] { 1.5f, 0.2f, 0.8f, 2.6f }); // one float target per row, (N, 1)

        var model = new Sequential<float>([2], new Dense<float>(2, 16, random: random), new Tanh<float>(),
            new Dense<float>(16, 1, random: random));
        var trainer = new Trainer<float>(model, new MseLoss<float>(), new Sgd<float>(model, 0.05, 0.9), random: random);
        trainer.Fit(values, new TrainerOptions { Epochs = 200, BatchSize = 4 });
        RegressionMetrics m = trainer.EvaluateTargets(values).Metrics;            // MeanSquaredError, MeanAbsoluteError, RSquared
        // --- end ---
        classes.ClassCount.Should().Be(2);
        m.MeanSquaredError.Should().BeLessThan(0.01, "four points are fitted closely");
        m.RSquared.Should().BeGreaterThan(0.95);

        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var block = Regex.Match(readme, @"## Your own data.*?```csharp\n(?<code>.*?)```", RegexOptions.Singleline);
        block.Success.Should().BeTrue();
        string source = File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "NeuralNet.Tests", "ReadmeSampleTests.cs"));
        var mine = Regex.Match(source, @"// --- README your own data ---\n(?<code>.*?)\s*// --- end ---", RegexOptions.Singleline);
        Normalize(mine.Groups["code"].Value.Split('\n')).Should().Equal(Normalize(block.Groups["code"].Value.Split('\n')),
            "the README's block is the code this test runs");
    }

    [Fact]
    public void ReadmeQuickStart_IsTheCodeThisTestRuns()
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var block = Regex.Match(readme, @"## Quick start\s+```csharp\n(?<code>.*?)```", RegexOptions.Singleline);
        block.Success.Should().BeTrue("README.md has a C# block under '## Quick start'");
        var readmeLines = Normalize(block.Groups["code"].Value.Split('\n')).Where(l => !l.StartsWith("using ", StringComparison.Ordinal)).ToList();

        string source = File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "NeuralNet.Tests", "ReadmeSampleTests.cs"));
        int start = source.IndexOf("// --- README quick start ---", StringComparison.Ordinal);
        int end = source.IndexOf("// --- end ---", start, StringComparison.Ordinal);
        var testLines = Normalize(source[start..end].Split('\n').Skip(1)).ToList();

        testLines.Should().Equal(readmeLines, "the README sample and the code this test runs must not drift apart");
    }

    private static IEnumerable<string> Normalize(IEnumerable<string> lines) =>
        lines.Select(l => l.Trim()).Where(l => l.Length > 0);
}
