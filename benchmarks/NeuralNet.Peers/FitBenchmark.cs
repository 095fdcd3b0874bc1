using System.Diagnostics;
using NeuralNet.Losses;
using NeuralNet.Optimization;
using NeuralNet.Training;

namespace NeuralNet.Peers;

/// <summary>
/// The user's path: <see cref="Trainer{T}.Fit"/> for <c>--epochs</c> epochs over the first <c>--examples</c> training
/// images (shuffled every epoch, gathered into batches, stepped, with the trainer's loss/accuracy metrics and its
/// per-iteration history), timed epoch by epoch from the call, so the first epoch includes the JIT's warm-up and
/// Fit's own checks of the data. Nothing runs before it: the process starts, loads the data and calls Fit.
/// </summary>
internal static class FitBenchmark
{
    private sealed class EpochClock(long start) : TrainingCallback<float>
    {
        public readonly List<double> Ends = [];
        public readonly List<long> Allocated = [];
        public readonly List<double> Loss = [];

        public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord record)
        {
            Ends.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            Allocated.Add(GC.GetTotalAllocatedBytes(precise: false));
            Loss.Add(record.TrainingLoss);
        }
    }

    public static void Run(Options options)
    {
        if (!TrainBenchmark.Nets.TryGetValue(options.Net, out var net))
            throw new ArgumentException($"--net expects a, b, c or d, got '{options.Net}'.");
        if (!options.Examples.TryGetValue(options.Net, out int examples))
            throw new ArgumentException($"--examples has no count for net {options.Net}.");

        var (inputs, labels, description) = BenchmarkData.LoadAll(options.Data, options.MnistDirectory, examples, net.ExampleShape);
        int n = labels.Length;
        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "info", ["data"] = description, ["threads"] = options.Threads,
            ["dotnet"] = Environment.Version.ToString(),
            ["avx512"] = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
        });

        var model = net.Build(new RandomGenerator(42));
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, TrainBenchmark.LearningRate),
            random: new RandomGenerator(42));
        var fitOptions = new TrainerOptions { Epochs = options.Epochs, BatchSize = net.Batch, Shuffle = true, RecordIterations = true };
        long start = Stopwatch.GetTimestamp();
        var clock = new EpochClock(start);
        trainer.Callbacks.Add(clock);
        trainer.Fit(inputs, labels, fitOptions);

        var rates = new List<double>();
        double previous = 0;
        foreach (double end in clock.Ends)
        {
            rates.Add(n / (end - previous));
            previous = end;
        }
        int stepsPerEpoch = (n + net.Batch - 1) / net.Batch;
        // Managed allocation per step after the first epoch (the first allocates the modules' buffers once).
        double allocPerStep = clock.Ends.Count > 1
            ? (clock.Allocated[^1] - clock.Allocated[0]) / (double)((clock.Ends.Count - 1) * stepsPerEpoch)
            : double.NaN;
        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "fit", ["net"] = options.Net, ["title"] = net.Title,
            ["batch"] = net.Batch, ["examples"] = n, ["epochs"] = rates.Count, ["epoch_samples_per_s"] = rates,
            ["loss_first_epoch"] = clock.Loss[0], ["loss_last_epoch"] = clock.Loss[^1], ["threads"] = options.Threads,
            ["alloc_bytes_per_step"] = allocPerStep,

        });
    }
}
