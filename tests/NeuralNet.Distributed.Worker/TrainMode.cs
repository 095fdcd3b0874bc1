using System.Globalization;
using System.Runtime.InteropServices;

namespace NeuralNet.Distributed.Worker;

/// <summary>Runs <see cref="Scenario"/> under mpirun; rank 0 writes the final weights' raw float32 bits to --weights.</summary>
internal static class TrainMode
{
    public static int Run(Communicator world, Options options)
    {
        int batch = options.Int("batch", 8), epochs = options.Int("epochs", 3);
        int failRank = options.Int("fail-rank", -1), failEpoch = options.Int("fail-after-epoch", -1), sleep = options.Int("sleep-ms", 0);
        // Ranks other than 0 start from different weights: the broadcast must make them agree.
        ulong seed = world.IsRoot ? 7UL : 1000UL + (ulong)world.Rank;
        Console.WriteLine($"[rank {world.Rank}] pid {Environment.ProcessId}");
        var probe = new AllocationProbe();
        var trainer = Scenario.Train(world, batch, epochs, seed, options.String("checkpoint"), options.Flag("resume"), verifyEveryStep: true,
            configure: t => t.Callbacks.Add(probe), onEpoch: e =>
        {
            if (world.IsRoot)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[rank 0] epoch {e.Epoch} loss {e.TrainingLoss:F6} acc {e.TrainingAccuracy:F4} val loss {e.ValidationLoss:F6} val acc {e.ValidationAccuracy:F4} lr {e.LearningRate:R}"));
            if (world.Rank == failRank && e.Epoch == failEpoch)
                throw new InvalidOperationException($"deliberate failure of rank {failRank} after epoch {failEpoch}");
            if (sleep > 0) Thread.Sleep(sleep);
        });
        var strategy = (DataParallelStrategy<float>)trainer.Strategy;
        ulong checksum = strategy.DataParallel!.ParameterChecksum();
        Console.WriteLine($"[rank {world.Rank}] done: {trainer.Epoch} epochs, {trainer.Iteration} steps, weights checksum {checksum:x16}, configuration {strategy.ConfigurationHash}");
        if (world.IsRoot && options.String("weights") is { } path)
            File.WriteAllBytes(path, MemoryMarshal.AsBytes(Scenario.Weights(trainer).AsSpan()).ToArray());
        if (probe.Steps > 0) Console.WriteLine($"[rank {world.Rank}] allocated by {probe.Steps} full-batch steps inside epochs 2+: {probe.Bytes} B");
        return 0;
    }

    /// <summary>Runs one of <see cref="Features"/>; rank 0 writes the final weights to --weights and the history (epochs, then
    /// iterations, as CSV) to --history; every rank prints its outcome and weights checksum.</summary>
    public static int Feature(Communicator world, Options options)
    {
        string feature = options.String("feature") ?? throw new ArgumentException("Worker: feature needs --feature NAME.");
        var outcome = Features.Run(world, feature, options.Int("batch", 8), options.Int("fault-rank", 1));
        var trainer = outcome.Trainer;
        ulong checksum = ((DataParallelStrategy<float>)trainer.Strategy).DataParallel!.ParameterChecksum();
        Console.WriteLine($"[rank {world.Rank}] outcome: {outcome.Error ?? "completed"}");
        Console.WriteLine($"[rank {world.Rank}] feature {feature}: {trainer.Epoch} epochs, {trainer.Iteration} steps, stopped epoch {outcome.EarlyStopping?.StoppedEpoch ?? 0}, weights checksum {checksum:x16}");
        if (world.IsRoot && options.String("weights") is { } path)
            File.WriteAllBytes(path, MemoryMarshal.AsBytes(Scenario.Weights(trainer).AsSpan()).ToArray());
        if (world.IsRoot && options.String("history") is { } historyPath)
            File.WriteAllText(historyPath, trainer.History.EpochsToCsv() + trainer.History.IterationsToCsv());
        return 0;
    }

    /// <summary>Bytes the training thread allocated by the full-batch steps of the second and later epochs: the window between
    /// two consecutive steps' ends, counted once the next step of the same epoch arrives (so an epoch's first step, which
    /// follows its epoch end, and its last, partial-batch step are left out; the single-process path of this scenario
    /// allocates at the partial-batch step too).</summary>
    private sealed class AllocationProbe : NeuralNet.Training.TrainingCallback<float>
    {
        private long _last = -1, _pending = -1;
        private int _epoch;

        public long Bytes { get; private set; }

        public int Steps { get; private set; }

        public override void OnIterationEnd(NeuralNet.Training.Trainer<float> trainer, in NeuralNet.Training.IterationRecord record)
        {
            long now = GC.GetAllocatedBytesForCurrentThread();
            bool sameEpoch = record.Epoch == _epoch && _last >= 0;
            if (sameEpoch && _pending >= 0)
            {
                Bytes += _pending;
                Steps++;
            }
            _pending = sameEpoch && record.Epoch >= 2 ? now - _last : -1;
            _epoch = record.Epoch;
            _last = GC.GetAllocatedBytesForCurrentThread();
        }
    }
}
