using NeuralNet.Losses;
using NeuralNet.Models;
using NeuralNet.Optimization;
using NeuralNet.Training;

namespace NeuralNet.Distributed.Tests;

/// <summary><see cref="DataParallelOptions.OverlapGradientReduction"/> through the one trainer: the bucketed, overlapped
/// reduction ends with the same bits as the reduction after the backward pass.</summary>
public sealed class OverlapStrategyTests
{
    private static (NdArray<float> X, int[] Y) Data(bool images, int examples)
    {
        var random = new RandomGenerator(11);
        var x = images ? new NdArray<float>(examples, 1, 28, 28) : new NdArray<float>(examples, 784);
        var span = x.AsSpan();
        for (int i = 0; i < span.Length; i++) span[i] = (float)random.NextDouble();
        var y = new int[examples];
        for (int i = 0; i < y.Length; i++) y[i] = i % 10;
        return (x, y);
    }

    private static (float[] Weights, DataParallelStrategy<float> Strategy) Train(InProcessCommunicator world, bool overlap, string network)
    {
        var random = new RandomGenerator(5);
        // The modern CNN, narrow: batch norm (buffers broadcast each epoch), dropout, five layers with parameters; 44 examples
        // leave no rank a slice of one, which batch norm cannot train on. The MLP on 38: with 3 ranks × 4 the last global
        // batch has 2 examples, so one rank's slice is empty and it contributes zeros without a backward pass.
        bool cnn = network == "modern-cnn";
        var model = cnn ? ReferenceNetworks.ModernCnn<float>(random, 4, 8, 16, 32) : ReferenceNetworks.Mlp<float>(random);
        var sgd = new Sgd<float>(model, learningRate: 0.05, momentum: 0.9);
        var strategy = new DataParallelStrategy<float>(world, new DataParallelOptions { OverlapGradientReduction = overlap, BucketBytes = 1024 });
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), sgd, random) { Strategy = strategy };
        var (x, y) = Data(cnn, cnn ? 44 : 38);
        trainer.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 4 });
        model.LayerBackwardCompleted.Should().BeNull("the strategy unhooks itself when Fit ends");
        return (model.Parameters.SelectMany(p => p.Value.AsSpan().ToArray()).ToArray(), strategy);
    }

    [Theory]
    [InlineData("modern-cnn", 2)]
    [InlineData("modern-cnn", 3)]
    [InlineData("mlp", 3)]
    public void Overlapped_EqualsTheReductionAfterBackward_BitForBit(string network, int ranks)
    {
        var after = new float[ranks][];
        var overlapped = new float[ranks][];
        var reducers = new GradientBucketReducer<float>?[ranks];
        InProcessCommunicator.RunGroup(ranks, c => after[c.Rank] = Train(c, overlap: false, network).Weights);
        InProcessCommunicator.RunGroup(ranks, c =>
        {
            var (weights, strategy) = Train(c, overlap: true, network);
            overlapped[c.Rank] = weights;
            reducers[c.Rank] = strategy.BucketReducer;
        });
        for (int r = 0; r < ranks; r++)
            overlapped[r].Should().Equal(after[0], $"rank {r}: the overlapped reduction gives the same bits");
        reducers[0].Should().NotBeNull();
        reducers[0]!.Layout.Count.Should().BeGreaterThan(1, "1 KiB buckets split the network");
        reducers[0]!.Overlaps.Should().BeTrue("the in-process group allows collectives on the communication thread");
    }

    [Fact]
    public void Overlap_RefusesANonPositiveBucketSize()
    {
        InProcessCommunicator.RunGroup(1, c =>
        {
            var act = () => new DataParallelStrategy<float>(c, new DataParallelOptions { OverlapGradientReduction = true, BucketBytes = 0 });
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*BucketBytes*");
        });
    }
}
