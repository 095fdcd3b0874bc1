using System.Diagnostics;
using NeuralNet.Kernels;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Training;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Peers;

/// <summary>
/// <c>fit-profile</c>: where <see cref="Trainer{T}.Fit"/>'s epoch spends its time beyond the raw step, in one process, the
/// measurements interleaved round by round so that background load hits them alike. Each round times one epoch of
/// (1) the raw step over consecutive pre-copied batches, (2) <c>Trainer.Fit</c> (one epoch per call, timed from
/// <see cref="TrainingCallback{T}.OnTrainBegin"/>, after Fit's checks of the data), and (3) replicas of Fit's loop with a
/// clock around every phase (the gather of inputs and labels, the forward pass, the check of the output, the loss, the
/// arg-max count, zeroing, backward, the update and the history record), gathering row by row, with
/// <see cref="Kernels.Cpu.GatherRows{T}"/>, or on a thread of their own while the previous step runs. Prints each epoch
/// loop's median rate and spread, and percentiles of every step's and phase's time: on a machine shared with other work
/// the low percentiles are the steps that ran with both kernel threads on a core. <c>gather-only</c> times the gather alone.
/// </summary>
internal static class FitProfile
{
    /// <summary>The time of every Fit iteration: from the previous iteration's end (or the start of training) to this one's.</summary>
    private sealed class StepTimer : TrainingCallback<float>
    {
        public long Begin, End, Last;
        public readonly List<double> Steps = [];

        public override void OnTrainBegin(Trainer<float> trainer) => Begin = Last = Stopwatch.GetTimestamp();

        public override void OnIterationEnd(Trainer<float> trainer, in IterationRecord record)
        {
            long now = Stopwatch.GetTimestamp();
            Steps.Add(Stopwatch.GetElapsedTime(Last, now).TotalSeconds * 1e6);
            Last = now;
        }

        public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord record) => End = Stopwatch.GetTimestamp();
    }

    private static readonly string[] PhaseNames =
        ["gather", "labels", "forward", "output check", "loss", "argmax count", "zero grad", "backward", "update", "record"];

    public static void Run(Options options)
    {
        var net = TrainBenchmark.Select(options.Net);
        if (!options.Examples.TryGetValue(options.Net, out int examples))
            throw new ArgumentException($"--examples has no count for net {options.Net}.");
        var (inputs, labels, description) = BenchmarkData.LoadAll(options.Data, options.MnistDirectory, examples, net.ExampleShape);
        int n = labels.Length, rowLength = inputs.Length / n, batch = net.Batch;

        var model = net.Build(new RandomGenerator(42));
        var loss = new SoftmaxCrossEntropyLoss<float>();
        var sgd = new Sgd<float>(model, TrainBenchmark.LearningRate, momentum: net.Momentum);
        var trainer = new Trainer<float>(model, loss, sgd, random: new RandomGenerator(42));
        var timer = new StepTimer();
        trainer.Callbacks.Add(timer);
        var fitOptions = new TrainerOptions { Epochs = 1, BatchSize = batch, Shuffle = true, RecordIterations = true };

        // The raw step's batches, copied once, in order.
        var batches = FitBenchmark.RawBatches(inputs, labels, batch);

        // The replica's state: its own generator, order and gather buffers (one per batch size), history.
        var random = new RandomGenerator(7);
        var order = new int[n];
        var gathered = new Dictionary<int, (NdArray<float> X, int[] Y)>();
        foreach (var (x, y) in batches)
            if (!gathered.ContainsKey(y.Length)) gathered[y.Length] = (new NdArray<float>(x.ShapeArray()), new int[y.Length]);
        var history = new History();
        long iteration = 0;

        var rawSteps = new List<double>();
        double RawEpoch()
        {
            long t0 = Stopwatch.GetTimestamp(), t = t0;
            foreach (var (x, y) in batches)
            {
                TrainBenchmark.RawStep(model, loss, sgd, x, y);
                long now = Stopwatch.GetTimestamp();
                rawSteps.Add(Stopwatch.GetElapsedTime(t, now).TotalSeconds * 1e6);
                t = now;
            }
            return Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }

        double FitEpoch()
        {
            trainer.Fit(inputs, labels, fitOptions);
            return Stopwatch.GetElapsedTime(timer.Begin, timer.End).TotalSeconds;
        }

        // Per replica variant (0: the row-by-row span copy, 1: Cpu.GatherRows, 2: the next batch gathered by a thread of its
        // own while the step runs, double-buffered), per phase, every step's microseconds.
        const int variants = 3;
        string[] variantNames = ["span gather", "kernel gather", "background gather"];
        var phaseSteps = Enumerable.Range(0, variants).Select(_ => PhaseNames.Select(_ => new List<double>()).ToArray()).ToArray();
        var replicaSteps = Enumerable.Range(0, variants).Select(_ => new List<double>()).ToArray();
        var spare = gathered.ToDictionary(kv => kv.Key, kv => new NdArray<float>(kv.Value.X.ShapeArray()));
        var background = new BackgroundGather(inputs.Data, rowLength);
        double ReplicaEpoch(int variant)
        {
            history.EnsureIterationCapacity(batches.Count);
            var phases = phaseSteps[variant];
            long start = Stopwatch.GetTimestamp(), t = start, stepStart = start;
            void Lap(int phase)
            {
                long now = Stopwatch.GetTimestamp();
                phases[phase].Add(Stopwatch.GetElapsedTime(t, now).TotalSeconds * 1e6);
                t = now;
            }
            for (int i = 0; i < n; i++) order[i] = i;
            random.Shuffle(order.AsSpan());
            t = Stopwatch.GetTimestamp();
            NdArray<float> Buffer(int step, int b) => step % 2 == 0 ? gathered[b].X : spare[b];
            if (variant == 2) background.Start(order, 0, Math.Min(batch, n), Buffer(0, Math.Min(batch, n)));
            for (int offset = 0, step = 0; offset < n; offset += batch, step++)
            {
                int b = Math.Min(batch, n - offset);
                var (x, y) = gathered[b];
                var rows = order.AsSpan(offset, b);
                Span<float> dst = x.AsSpan();
                ReadOnlySpan<float> src = inputs.AsSpan();
                if (variant == 0)
                {
                    for (int i = 0; i < b; i++)
                        src.Slice(rows[i] * rowLength, rowLength).CopyTo(dst.Slice(i * rowLength, rowLength));
                }
                else if (variant == 1)
                {
                    Cpu.GatherRows(dst, src, rowLength, rows);
                }
                else
                {
                    background.Wait();
                    x = Buffer(step, b);
                    if (offset + b < n)
                    {
                        int next = Math.Min(batch, n - offset - b);
                        background.Start(order, offset + b, next, Buffer(step + 1, next));
                    }
                }
                Lap(0);
                for (int i = 0; i < b; i++) y[i] = labels[rows[i]];
                Lap(1);
                var output = model.Forward(x, training: true);
                Lap(2);
                if (!Finiteness.AllFinite<float>(output.AsSpan())) throw new InvalidOperationException("not finite");
                Lap(3);
                double value = loss.Forward(output, y);
                Lap(4);
                int classes = output.Length / b, correct = 0;
                ReadOnlySpan<float> o = output.AsSpan();
                for (int i = 0; i < b; i++)
                    if (TensorPrimitives.IndexOfMax(o.Slice(i * classes, classes)) == y[i]) correct++;
                Lap(5);
                sgd.ZeroGrad();
                Lap(6);
                model.Backward(loss.Backward());
                Lap(7);
                sgd.Step();
                Lap(8);
                iteration++;
                history.Add(new IterationRecord(1, iteration, value, (double)correct / b, double.NaN, double.NaN, sgd.LearningRate,
                    Stopwatch.GetElapsedTime(start), false));
                Lap(9);
                replicaSteps[variant].Add(Stopwatch.GetElapsedTime(stepStart, t).TotalSeconds * 1e6);
                stepStart = t;
            }
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "info", ["data"] = description, ["threads"] = options.Threads,
            ["dotnet"] = Environment.Version.ToString(), ["load"] = LoadAverage(),
        });
        // Warm-up: one epoch of each (compiles everything, allocates the modules' buffers, faults the data in).
        RawEpoch();
        FitEpoch();
        for (int v = 0; v < variants; v++) ReplicaEpoch(v);
        rawSteps.Clear();
        timer.Steps.Clear();
        foreach (var lists in phaseSteps) foreach (var list in lists) list.Clear();
        foreach (var list in replicaSteps) list.Clear();

        var raw = new List<double>();
        var fit = new List<double>();
        var replica = Enumerable.Range(0, variants).Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < options.Epochs; round++)
        {
            raw.Add(RawEpoch());
            fit.Add(FitEpoch());
            for (int v = 0; v < variants; v++) replica[v].Add(ReplicaEpoch(v));
        }

        static double Spread(List<double> v) => (v.Max() - v.Min()) / Json.Median(v);
        // A step of the raw loop that ran with both kernel threads on a core takes about its p5; under background load many
        // steps run with one thread waiting for a core. "fast" is the share of steps within 1.2 times the raw loop's p5.
        double fastLimit = 1.2 * rawSteps.Order().ElementAt(rawSteps.Count / 20);
        string Steps(List<double> v, bool phase = false)
        {
            var sorted = v.Order().ToArray();
            string text = $"p5 {sorted[sorted.Length / 20]:F0} p10 {sorted[sorted.Length / 10]:F0} p25 {sorted[sorted.Length / 4]:F0} median {sorted[sorted.Length / 2]:F0}";
            return phase ? text : $"{text} fast {v.Count(t => t <= fastLimit) / (double)v.Count:P0}";
        }
        var record = new Dictionary<string, object?>
        {
            ["framework"] = "neuralnet", ["kind"] = "fit-profile", ["net"] = options.Net, ["batch"] = batch, ["examples"] = n,
            ["rounds"] = options.Epochs, ["steps_per_epoch"] = batches.Count,
            ["epoch samples/s (median, spread): raw"] = $"{n / Json.Median(raw):F0} ({Spread(raw):P0})",
            ["fit"] = $"{n / Json.Median(fit):F0} ({Spread(fit):P0})",
            ["step us: raw"] = Steps(rawSteps), ["step us: fit"] = Steps(timer.Steps),
        };
        for (int v = 0; v < variants; v++)
        {
            record["replica " + variantNames[v]] = $"{n / Json.Median(replica[v]):F0} ({Spread(replica[v]):P0})";
            record["step us: replica " + variantNames[v]] = Steps(replicaSteps[v]);
        }
        for (int v = 0; v < variants; v++)
            for (int p = 0; p < PhaseNames.Length; p++)
                record[$"{variantNames[v]}: {PhaseNames[p]} us"] = Steps(phaseSteps[v][p], phase: true);
        record["load"] = LoadAverage();
        Json.Emit(record);
        GatherVariants(inputs, n, rowLength, batch, options.Epochs);
    }

    public static void GatherOnly(Options options)
    {
        var net = TrainBenchmark.Select(options.Net);
        var (inputs, labels, _) = BenchmarkData.LoadAll(options.Data, options.MnistDirectory, options.Examples[options.Net], net.ExampleShape);
        GatherVariants(inputs, labels.Length, inputs.Length / labels.Length, net.Batch, options.Epochs);
    }

    /// <summary>A thread of its own that gathers one batch at a time on request (one thread: the kernel pool is the step's).</summary>
    private sealed class BackgroundGather
    {
        private readonly float[] _source;
        private readonly int _rowLength;
        private readonly SemaphoreSlim _go = new(0), _done = new(0);
        private int[] _order = [];
        private int _offset, _count;
        private NdArray<float>? _destination;

        public BackgroundGather(float[] source, int rowLength)
        {
            (_source, _rowLength) = (source, rowLength);
            new Thread(Loop) { IsBackground = true, Name = "background gather" }.Start();
        }

        public void Start(int[] order, int offset, int count, NdArray<float> destination)
        {
            (_order, _offset, _count, _destination) = (order, offset, count, destination);
            _go.Release();
        }

        public void Wait() => _done.Wait();

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                ReadOnlySpan<float> src = _source;
                Span<float> dst = _destination!.AsSpan();
                for (int i = 0; i < _count; i++)
                    src.Slice(_order[_offset + i] * _rowLength, _rowLength).CopyTo(dst.Slice(i * _rowLength, _rowLength));
                _done.Release();
            }
        }
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "";

    /// <summary>Microseconds per batch of gather variants over one epoch's permutation, interleaved round by round.</summary>
    private static void GatherVariants(NdArray<float> inputs, int n, int rowLength, int batch, int rounds)
    {
        var random = new RandomGenerator(11);
        var order = new int[n];
        var destination = new float[batch * rowLength];
        var variants = new List<(string Name, Action<ReadOnlySpan<int>> Gather)>
        {
            ("span rows", rows =>
            {
                ReadOnlySpan<float> src = inputs.AsSpan();
                for (int i = 0; i < rows.Length; i++)
                    src.Slice(rows[i] * rowLength, rowLength).CopyTo(destination.AsSpan(i * rowLength, rowLength));
            }),
            ("contiguous copy", rows => inputs.AsSpan().Slice(Math.Min(rows[0], n - rows.Length) * rowLength, rows.Length * rowLength).CopyTo(destination)),
        };
        foreach (int threads in new[] { 1, 2 })
            variants.Add(($"Cpu.GatherRows, {threads} threads", rows =>
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                Cpu.GatherRows<float>(destination, inputs.AsSpan(), rowLength, rows);
            }));
        // Every batch timed alone: under background load the low percentiles are the batches that ran undisturbed.
        var times = variants.Select(_ => new List<double>()).ToArray();
        int threadsBefore = NeuralNetSettings.MaxDegreeOfParallelism;
        for (int round = 0; round <= rounds; round++)
            for (int v = 0; v < variants.Count; v++)
            {
                for (int i = 0; i < n; i++) order[i] = i;
                random.Shuffle(order.AsSpan());
                for (int offset = 0; offset + batch <= n; offset += batch)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    variants[v].Gather(order.AsSpan(offset, batch));
                    if (round > 0) times[v].Add(Stopwatch.GetElapsedTime(t0).TotalSeconds * 1e6);
                }
            }
        NeuralNetSettings.MaxDegreeOfParallelism = threadsBefore;
        var record = new Dictionary<string, object?> { ["framework"] = "neuralnet", ["kind"] = "gather-us-per-batch (p10, median, p90 of single batches)" };
        for (int v = 0; v < variants.Count; v++)
        {
            var sorted = times[v].Order().ToArray();
            record[variants[v].Name] = $"p10 {sorted[sorted.Length / 10]:F0} median {sorted[sorted.Length / 2]:F0} p90 {sorted[sorted.Length * 9 / 10]:F0}";
        }
        record["load"] = LoadAverage();
        Json.Emit(record);
    }
}
