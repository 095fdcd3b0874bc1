using System.Diagnostics;
using NeuralNet.Models;
using NeuralNet.Training;
using Xunit.Abstractions;

namespace NeuralNet.Tests.Training;

public class MnistEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public void Mlp784_64_10_ReachesAtLeast95PercentOnTheTestSetInTwoEpochs()
    {
        var train = MnistTestData.TrainSet;
        var test = MnistTestData.TestSet;
        var watch = Stopwatch.StartNew();
        var mlp = MlpClassifier.Train(train.Features, train.Labels, new MlpSettings
        {
            HiddenSizes = [64],
            Hidden = HiddenActivation.ReLU,
            Output = OutputActivation.Logits,
            LearningRate = 0.1,
            Seed = 42,
            Training = new TrainerOptions { Epochs = 2, BatchSize = 32 },
        });
        var trainTime = watch.Elapsed;
        var result = mlp.Evaluate(test);
        output.WriteLine($"784-64-10 ReLU, 2 epochs, batch 32, lr 0.1: train {trainTime.TotalSeconds:F1} s, test accuracy {result.Accuracy:P2}, loss {result.Loss:F4}, macro F1 {result.ConfusionMatrix.MacroF1:F4}");
        output.WriteLine(mlp.History.EpochsToCsv());
        result.Accuracy.Should().BeGreaterThanOrEqualTo(0.95);
        result.ConfusionMatrix.Total.Should().Be(10_000);
        result.ConfusionMatrix.MacroF1.Should().BeGreaterThan(0.94);
        mlp.History.Epochs.Should().HaveCount(2);
        mlp.History.Epochs[1].TrainingLoss.Should().BeLessThan(mlp.History.Epochs[0].TrainingLoss);
    }
}
