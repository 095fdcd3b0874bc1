using System.Diagnostics;
using NeuralNet.Losses;
using NeuralNet.Modules;
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
        public readonly List<double> Cpu = [];
        public readonly List<double> Jit = [];

        public double TrainBegin;
        public double TrainBeginCpu;

        public override void OnTrainBegin(Trainer<float> trainer)
        {
            TrainBegin = Stopwatch.GetElapsedTime(start).TotalSeconds;
            TrainBeginCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        }

        public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord record)
        {
            Ends.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            Cpu.Add(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds);
            Jit.Add(System.Runtime.JitInfo.GetCompilationTime().TotalSeconds);
            Allocated.Add(GC.GetTotalAllocatedBytes(precise: false));
            Loss.Add(record.TrainingLoss);
        }
    }

    public static void Run(Options options)
    {
        var net = TrainBenchmark.Select(options.Net);
        if (!options.Examples.TryGetValue(options.Net, out int examples))
            throw new ArgumentException($"--examples has no count for net {options.Net}.");

        var (inputs, labels, description) = BenchmarkData.LoadAll(options.Data, options.MnistDirectory, examples, net.ExampleShape);
        int n = labels.Length;
        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "info", ["data"] = description, ["threads"] = options.Threads,
            ["dotnet"] = Environment.Version.ToString(),
            ["avx512"] = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
            ["tiered_compilation"] = AppContext.GetData("System.Runtime.TieredCompilation")?.ToString() ?? "default",
        });

        var model = net.Build(new RandomGenerator(42));
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, TrainBenchmark.LearningRate, momentum: net.Momentum),
            random: new RandomGenerator(42));
        var fitOptions = new TrainerOptions { Epochs = options.Epochs, BatchSize = net.Batch, Shuffle = true, RecordIterations = true };
        double cpuStart = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        double sinceProcessStart = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
        double jitStart = System.Runtime.JitInfo.GetCompilationTime().TotalSeconds;
        long start = Stopwatch.GetTimestamp();
        var clock = new EpochClock(start);
        trainer.Callbacks.Add(clock);
        trainer.Fit(inputs, labels, fitOptions);

        // The same model's raw step (zero the gradients, forward, loss, backward, update) on consecutive batches, as in
        // the train mode, for the same number of steps as an epoch, right after Fit in the same process: the difference
        // from Fit's steady epochs is the trainer's own work per epoch (shuffle, gather, checks, metrics, history).
        var raw = RawEpochs(model, inputs, labels, net.Batch, net.Momentum, 3);

        var rates = new List<double>();
        double previous = 0;
        foreach (double end in clock.Ends)
        {
            rates.Add(n / (end - previous));
            previous = end;
        }
        int stepsPerEpoch = (n + net.Batch - 1) / net.Batch;
        // Managed allocation per step after the first epoch (the first allocates the modules' buffers once).
        // Null (JSON null) after a single epoch: there is no later epoch to measure.
        double? allocPerStep = clock.Ends.Count > 1
            ? (clock.Allocated[^1] - clock.Allocated[0]) / (double)((clock.Ends.Count - 1) * stepsPerEpoch)
            : null;
        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "fit", ["net"] = options.Net, ["title"] = net.Title,
            ["batch"] = net.Batch, ["examples"] = n, ["epochs"] = rates.Count, ["epoch_samples_per_s"] = rates,
            ["loss_first_epoch"] = clock.Loss[0], ["loss_last_epoch"] = clock.Loss[^1], ["threads"] = options.Threads,
            ["alloc_bytes_per_step"] = allocPerStep,
            ["raw_epoch_seconds"] = raw.Wall, ["raw_epoch_cpu_seconds"] = raw.Cpu,
            // Fit's checks of the data before its first epoch (part of epoch 1 above): wall and CPU seconds.
            ["fit_setup_seconds"] = clock.TrainBegin, ["fit_setup_cpu_seconds"] = clock.TrainBeginCpu - cpuStart,
            // The process's CPU seconds per epoch (all threads, the JIT's included): less sensitive to other load than
            // the wall-clock rates, though a spinning worker counts too.
            ["epoch_cpu_seconds"] = clock.Cpu.Select((c, i) => c - (i == 0 ? cpuStart : clock.Cpu[i - 1])).ToList(),
            // Seconds the JIT spent compiling during each epoch (all threads).
            ["epoch_jit_seconds"] = clock.Jit.Select((c, i) => c - (i == 0 ? jitStart : clock.Jit[i - 1])).ToList(),
            // Multicore JIT: none, recorded (a first launch) or used (a profile of an earlier run compiled in the background).
            ["jit_profile"] = JitProfile.State, ["jit_profile_init_seconds"] = JitProfile.InitSeconds,
            // From the process's start to the Fit call (runtime start, data loading, model construction), wall and CPU
            // seconds: where the background compilation of a used profile runs.
            ["before_fit_seconds"] = sinceProcessStart, ["before_fit_cpu_seconds"] = cpuStart,

        });
    }

    /// <summary>The data cut into consecutive batches (the last one smaller), each copied once: the raw step's input.</summary>
    internal static List<(NdArray<float> X, int[] Y)> RawBatches(NdArray<float> inputs, int[] labels, int batch)
    {
        int n = labels.Length, rowLength = inputs.Length / n;
        var batches = new List<(NdArray<float> X, int[] Y)>();
        for (int offset = 0; offset < n; offset += batch)
        {
            int b = Math.Min(batch, n - offset);
            var shape = inputs.ShapeArray();
            shape[0] = b;
            batches.Add((new NdArray<float>(inputs.AsSpan().Slice(offset * rowLength, b * rowLength).ToArray(), shape), labels[offset..(offset + b)]));
        }
        return batches;
    }

    /// <summary>Median wall and CPU seconds of <paramref name="epochs"/> passes of raw steps over the data in order.</summary>
    private static (double Wall, double Cpu) RawEpochs(Sequential<float> model, NdArray<float> inputs, int[] labels, int batch, double momentum, int epochs)
    {
        var batches = RawBatches(inputs, labels, batch);
        var loss = new SoftmaxCrossEntropyLoss<float>();
        var sgd = new Sgd<float>(model, TrainBenchmark.LearningRate, momentum: momentum);
        var wall = new List<double>();
        var cpu = new List<double>();
        for (int e = 0; e < epochs; e++)
        {
            double c0 = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
            long t0 = Stopwatch.GetTimestamp();
            foreach (var (x, y) in batches)
            {
                TrainBenchmark.RawStep(model, loss, sgd, x, y);
            }
            wall.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            cpu.Add(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - c0);
        }
        return (Json.Median(wall), Json.Median(cpu));
    }
}
