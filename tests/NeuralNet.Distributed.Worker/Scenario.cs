using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Distributed.Worker;

/// <summary>
/// The small synthetic training run the distributed tests launch under mpirun and recompute in-process
/// (this file is compiled into both the worker and the test project): the one <see cref="Trainer{T}"/> with a
/// <see cref="DataParallelStrategy{T}"/>.
/// </summary>
/// <remarks>100 training and 30 validation examples of 16 features in 4 classes (Gaussian blobs), a 16-12-4 MLP with
/// sigmoid hidden units, softmax cross-entropy, SGD with momentum 0.9 and an epoch-level Bold Driver schedule. 100 is
/// not a multiple of 2·8 or 3·8, so every epoch ends with a partial global batch whose shards are unequal.</remarks>
internal static class Scenario
{
    public const int Features = 16, Classes = 4, TrainCount = 100, ValidationCount = 30;

    public static (NdArray<float> X, int[] Y) Data(int count, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        var centers = new RandomGenerator(99);
        var means = new float[Classes * Features];
        for (int i = 0; i < means.Length; i++) means[i] = (float)centers.NextGaussian();
        var x = new NdArray<float>(count, Features);
        var y = new int[count];
        for (int n = 0; n < count; n++)
        {
            y[n] = rng.NextInt(Classes);
            for (int f = 0; f < Features; f++) x.Data[n * Features + f] = means[y[n] * Features + f] + (float)(1.5 * rng.NextGaussian());
        }
        return (x, y);
    }

    /// <summary>Trains on <paramref name="communicator"/> (data-parallel when it has several ranks) and returns the trainer.</summary>
    /// <param name="batchPerRank">TrainerOptions.BatchSize: each rank's batch; the global batch is ranks × this.</param>
    /// <param name="epochs">The total number of epochs, counting those restored from a checkpoint.</param>
    /// <param name="modelSeed">Seed of the initial weights; ranks other than 0 may pass anything, rank 0's win.</param>
    /// <param name="checkpoint">The checkpoint rank 0 writes after every epoch, or null.</param>
    /// <param name="resume">Restore <paramref name="checkpoint"/> first.</param>
    public static Trainer<float> Train(Communicator? communicator, int batchPerRank, int epochs, ulong modelSeed = 7,
        string? checkpoint = null, bool resume = false, bool verifyEveryStep = true, Action<EpochRecord>? onEpoch = null,
        Action<Trainer<float>>? configure = null, CancellationToken cancellationToken = default)
    {
        var trainer = Create(communicator, modelSeed, verifyEveryStep);
        configure?.Invoke(trainer);
        if (resume) TrainingCheckpoint.Restore(trainer, checkpoint!);
        if (checkpoint is not null) trainer.Callbacks.Add(new CheckpointCallback<float>(checkpoint));
        var (x, y) = Data(TrainCount, 1);
        var (vx, vy) = Data(ValidationCount, 2);
        int remaining = Math.Max(0, epochs - trainer.Epoch);
        trainer.Fit(x, y, new TrainerOptions { Epochs = remaining, BatchSize = batchPerRank }, vx, vy,
            onEpoch is null ? null : new SyncProgress<TrainingProgress>(p =>
            {
                if (p.EpochCompleted) onEpoch(trainer.History.Last);
            }), cancellationToken);
        return trainer;
    }

    /// <summary>The scenario's trainer: a data-parallel strategy over <paramref name="communicator"/>, or one process when it is null.</summary>
    public static Trainer<float> Create(Communicator? communicator, ulong modelSeed = 7, bool verifyEveryStep = true)
    {
        var random = new RandomGenerator(modelSeed);
        var model = new Sequential<float>([Features], new Dense<float>(Features, 12, random: random), new Sigmoid<float>(), new Dense<float>(12, Classes, random: random));
        var sgd = new Sgd<float>(model, 0.5, momentum: 0.9);
        _ = new BoldDriverSchedule(sgd, increase: 1.05, decrease: 0.5);
        var loss = new SoftmaxCrossEntropyLoss<float>();
        // The shuffle generator is seeded the same on every rank, so the ranks agree on the order without communicating.
        if (communicator is null) return new Trainer<float>(model, loss, sgd, new RandomGenerator(2024));
        return new Trainer<float>(model, loss, sgd, new RandomGenerator(2024))
        {
            Strategy = new DataParallelStrategy<float>(communicator, new DataParallelOptions
            {
                VerifyWeightsEveryStep = verifyEveryStep,
                Description = "synthetic blobs 16x4",
            }),
        };
    }

    /// <summary>All parameter values, concatenated in parameter order.</summary>
    public static float[] Weights(Trainer<float> trainer) => trainer.Model.Parameters.SelectMany(p => p.Value.Data).ToArray();

    /// <summary>An <see cref="IProgress{T}"/> that reports synchronously on the calling thread (unlike <see cref="Progress{T}"/>).</summary>
    public sealed class SyncProgress<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
