using NeuralNet.Models;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

/// <summary>The trainer's strategy seam: the default (one process) trains exactly as the trainer did before strategies existed.</summary>
public class TrainingStrategyTests
{
    /// <summary>A run that exercises every per-step path of the loop: momentum, a per-iteration Bold Driver with undo, gradient
    /// clipping, a sample fraction, a validation split with per-iteration validation, early stopping, iteration history.</summary>
    private static (Trainer<float> Trainer, string Digest) Run(TrainingStrategy<float>? strategy)
    {
        var random = new RandomGenerator(11);
        var model = MlpBuilder.Build<float>(20, [16], 4, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
        var sgd = new Sgd<float>(model, 0.3, 0.9);
        _ = new BoldDriverSchedule(sgd, 1.05, 0.5, undoOnIncrease: true) { Interval = ScheduleInterval.Iteration };
        var trainer = strategy is null
            ? new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), sgd, random)
            : new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), sgd, random) { Strategy = strategy };
        trainer.Callbacks.Add(new EarlyStopping<float>(TrainingMetric.ValidationLoss, patience: 3));
        var data = new RandomGenerator(5);
        var x = new NdArray<float>(150, 20);
        var y = new int[150];
        for (int n = 0; n < 150; n++)
        {
            y[n] = data.NextInt(4);
            for (int f = 0; f < 20; f++) x.Data[n * 20 + f] = (float)(data.NextGaussian() + (f % 4 == y[n] ? 1.5 : 0));
        }
        trainer.Fit(x, y, new TrainerOptions
        {
            Epochs = 5, BatchSize = 7, SampleFraction = 0.8, ValidationSplit = 0.2, ValidationEveryIterations = 5, ClipGradientNorm = 1.0,
        });
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in model.Parameters) hash.AppendData(MemoryMarshal.AsBytes(p.Value.AsSpan()));
        foreach (var e in trainer.History.Epochs)
            hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{e.Epoch},{e.Iterations},{e.TrainingLoss:R},{e.TrainingAccuracy:R},{e.ValidationLoss:R},{e.ValidationAccuracy:R},{e.LearningRate:R};")));
        foreach (var i in trainer.History.Iterations)
            hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{i.Iteration},{i.TrainingLoss:R},{i.ValidationLoss:R},{i.LearningRate:R},{i.Undone};")));
        return (trainer, Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant());
    }

    [Fact]
    public void DefaultStrategy_TrainsBitForBitAsTheTrainerDidBeforeStrategies()
    {
        var (trainer, digest) = Run(null);
        trainer.Strategy.Should().BeSameAs(TrainingStrategy<float>.SingleProcess);
        trainer.History.Iterations.Should().Contain(i => i.Undone, "the run exercises the Bold Driver undo path");
        // SHA-256 of the final weights and the whole history (times excluded) of this run with the trainer as it was before it
        // took a strategy (the same test compiled against that commit); the default path must not change a bit.
        digest.Should().Be("6a5673fc3f2dbd09416f68ce8a9dd60716a744aa48b64e3c69f011c9216189fa");
    }

    [Fact]
    public void AStrategyOfOneRank_IsNeverAskedToCommunicate_AndTrainsLikeTheDefault()
    {
        var counting = new CountingStrategy();
        var (_, digest) = Run(counting);
        digest.Should().Be(Run(null).Digest);
        counting.Calls.Should().Be(0, "with one rank the trainer runs the single-process loop and calls no hook");
        counting.Shard(10).Should().Be((0, 10));
    }

    [Theory]
    [InlineData(10, 3, new[] { 0, 4, 4, 3, 7, 3 })]
    [InlineData(2, 3, new[] { 0, 1, 1, 1, 2, 0 })]
    [InlineData(9, 3, new[] { 0, 3, 3, 3, 6, 3 })]
    public void Shard_CutsAGlobalBatchIntoContiguousSlices_LowerRanksTakingTheExtraExamples(int global, int size, int[] expected)
    {
        for (int r = 0; r < size; r++)
            new FixedRank(r, size).Shard(global).Should().Be((expected[2 * r], expected[2 * r + 1]), $"rank {r} of {size}");
    }

    private sealed class CountingStrategy : TrainingStrategy<float>
    {
        public int Calls { get; private set; }

        public override int Rank => 0;

        public override int WorldSize => 1;

        public override void OnFitBegin(Trainer<float> trainer, IReadOnlyList<KeyValuePair<string, string>> settings) => Calls++;

        public override void Sum(Span<double> values) => Calls++;

        public override void ReduceGradients(int localCount, int globalCount) => Calls++;

        public override void BeginBackward() => Calls++;

        public override void OnEpochEnd(Trainer<float> trainer, int epoch) => Calls++;

        public override void OnFitEnd(Trainer<float> trainer) => Calls++;
    }

    private sealed class FixedRank(int rank, int size) : TrainingStrategy<float>
    {
        public override int Rank => rank;

        public override int WorldSize => size;
    }
}
