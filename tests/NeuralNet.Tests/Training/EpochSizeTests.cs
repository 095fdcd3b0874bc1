using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

public class EpochSizeTests
{
    [Theory]
    [InlineData(60_000, 1.0, 64, 60_000, 938)]
    [InlineData(50_000, 1.0, 256, 50_000, 196)]
    [InlineData(60_000, 0.7, 10, 42_000, 4_200)]
    [InlineData(1_000, 1.0, 1, 1_000, 1_000)]
    [InlineData(100, 1.0, 256, 100, 1)]
    [InlineData(3, 0.1, 32, 1, 1)]
    public void SamplesAndBatchesPerEpoch_FollowBatchSizeAndSampleFraction(int count, double fraction, int batch, int samples, int batches)
    {
        var options = new TrainerOptions { BatchSize = batch, SampleFraction = fraction };
        options.SamplesPerEpoch(count).Should().Be(samples);
        options.BatchesPerEpoch(count).Should().Be(batches);
    }

    [Fact]
    public void BatchesPerEpoch_IsWhatFitReports()
    {
        var random = new RandomGenerator(1);
        var model = NeuralNet.Models.MlpBuilder.Build<float>(4, [3], 2, NeuralNet.Models.HiddenActivation.ReLU,
            NeuralNet.Models.OutputActivation.Logits, null, random);
        var trainer = new Trainer<float>(model, new NeuralNet.Losses.SoftmaxCrossEntropyLoss<float>(),
            new NeuralNet.Optimization.Sgd<float>(model, 0.1), random);
        var x = new NdArray<float>(10, 4);
        var options = new TrainerOptions { Epochs = 1, BatchSize = 3 };
        var reported = new List<int>();
        trainer.Fit(x, new int[10], options, progress: new SynchronousProgress(p => reported.Add(p.BatchesPerEpoch)));
        reported.Should().NotBeEmpty().And.OnlyContain(b => b == options.BatchesPerEpoch(10)).And.Contain(4);
    }

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
