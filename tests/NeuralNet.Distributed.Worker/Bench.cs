using System.Diagnostics;
using System.Globalization;

namespace NeuralNet.Distributed.Worker;

/// <summary>Measures the per-step gradient all-reduce cost for the parameter counts of the reference networks.</summary>
internal static class Bench
{
    public static int Run(Communicator world, Options options)
    {
        int iterations = options.Int("iterations", 200), warmup = options.Int("warmup", 20), batch = options.Int("batch", 32);
        string label = options.String("label") ?? "";
        var names = options.String("networks") is { } list ? list.Split(',') : Networks.Names;
        if (world.IsRoot)
        {
            Console.WriteLine($"# per step, {world.Size} rank(s), {iterations} steps after {warmup} warm-up (compute and step: a tenth of that), slowest rank per step, float32, batch {batch} per rank{(label.Length > 0 ? ", " + label : "")}");
            Console.WriteLine("| link | network | parameters | gradient bytes | ranks | compute (forward + backward) µs, min / median | ordered all-reduce (all-to-all + rank-order sum + all-gather) µs, min / median | MPI_Allreduce µs, min / median | step (compute + ordered all-reduce + SGD) µs, min / median |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        }
        foreach (var name in names)
        {
            var (model, input, labels, loss) = Problem(name, batch);
            int count = model.Parameters.Sum(p => p.Value.Length);
            void Step()
            {
                model.ZeroGrad();
                loss.Forward(model.Forward(input, training: true), labels);
                model.Backward(loss.Backward());
            }

            // The compute step has no collective, so each rank may warm it up for a while on its own: a few calls
            // would time the JIT's unoptimized first tier, not the kernels.
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed < TimeSpan.FromSeconds(1.5)) Step();
            var compute = Time(world, 0, Math.Max(5, iterations / 10), Step);
            var buffer = new float[count];
            var ordered = Time(world, warmup, iterations, () => { buffer.AsSpan().Fill(1f / 3); world.AllReduceSumOrdered<float>(buffer); });
            var native = Time(world, warmup, iterations, () => { buffer.AsSpan().Fill(1f / 3); world.AllReduce<float>(buffer, ReduceOperation.Sum); });
            // A whole data-parallel step: the gradients averaged in rank order over the ranks' shards, then SGD.
            var sgd = new NeuralNet.Optimization.Sgd<float>(model, 0.001);
            var dp = new DataParallel<float>(world, model.Parameters);
            dp.BroadcastParameters();
            var step = Time(world, 2, Math.Max(5, iterations / 10), () =>
            {
                Step();
                dp.AllReduceGradients(batch, batch * world.Size);
                sgd.Step();
            });
            if (world.IsRoot)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {label} | {Networks.Title(name)} | {count:N0} | {4L * count:N0} | {world.Size} | {compute.Min:F0} / {compute.Median:F0} | {ordered.Min:F0} / {ordered.Median:F0} | {native.Min:F0} / {native.Median:F0} | {step.Min:F0} / {step.Median:F0} |"));
        }
        return 0;
    }

    /// <summary>
    /// A whole data-parallel step (forward, backward with the ordered gradient reduction, SGD) with the reduction after the
    /// backward pass (<see cref="DataParallel{T}.AllReduceGradients"/>) and overlapped with it
    /// (<see cref="GradientBucketReducer{T}"/>, one row per bucket cap in --buckets), plus the step without any
    /// communication. The variants run interleaved, step by step, so load changes hit them alike. Per variant: the median
    /// and the minimum over --iterations of the slowest rank's time (on a loaded machine the median is mostly
    /// pre-emption; the minimum estimates the unloaded cost). "hideable" is the backward time left after the first bucket's layers
    /// are done (measured in the communication-free step): the most the overlap can hide.
    /// </summary>
    public static int Overlap(Communicator world, Options options)
    {
        int iterations = options.Int("iterations", 60), batch = options.Int("batch", 32);
        string label = options.String("label") ?? "";
        var names = options.String("networks") is { } list ? list.Split(',') : Networks.Names;
        var caps = (options.String("buckets") ?? "1,65536,262144")
            .Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        if (world.IsRoot)
        {
            Console.WriteLine($"# overlap, {world.Size} rank(s), median / minimum of {iterations} interleaved steps per variant, slowest rank per step, float32, batch {batch} per rank, {NeuralNetSettings.MaxDegreeOfParallelism} compute thread(s) per rank{(label.Length > 0 ? ", " + label : "")}");
            Console.WriteLine("| link | network | gradient bytes | ranks | bucket cap | buckets | last bucket bytes | compute (no communication) µs, median / min | hideable backward µs, median / min | step, reduction after backward µs, median / min | step, overlapped µs, median / min | overlapped / after, medians |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        }
        foreach (var name in names)
        {
            var (model, input, labels, loss) = Problem(name, batch);
            int count = model.Parameters.Sum(p => p.Value.Length);
            var sgd = new NeuralNet.Optimization.Sgd<float>(model, 0.001);
            var dp = new DataParallel<float>(world, model.Parameters);
            dp.BroadcastParameters();
            var reducers = caps.Select(c => new GradientBucketReducer<float>(world, model, c)).ToArray();
            var stamps = new long[model.Layers.Count];
            long backwardEnd = 0;
            GradientBucketReducer<float>? current = null;
            model.LayerBackwardCompleted = i =>
            {
                stamps[i] = Stopwatch.GetTimestamp();
                current?.LayerCompleted(i);
            };
            void Compute()
            {
                model.ZeroGrad();
                loss.Forward(model.Forward(input, training: true), labels);
                model.Backward(loss.Backward());
                backwardEnd = Stopwatch.GetTimestamp();
            }
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed < TimeSpan.FromSeconds(1.5)) Compute();

            int variants = 2 + reducers.Length;
            var samples = new double[variants * iterations];
            var hideable = new double[reducers.Length * iterations];
            var watch = new Stopwatch();
            for (int it = -3; it < iterations; it++)
            {
                for (int v = 0; v < variants; v++)
                {
                    world.Barrier();
                    watch.Restart();
                    if (v == 0) Compute();
                    else if (v == 1)
                    {
                        Compute();
                        dp.AllReduceGradients(batch, batch * world.Size);
                    }
                    else
                    {
                        current = reducers[v - 2];
                        current.Begin(batch, batch * world.Size);
                        Compute();
                        current.Complete();
                        current = null;
                    }
                    sgd.Step();
                    watch.Stop();
                    if (it < 0) continue;
                    samples[v * iterations + it] = watch.Elapsed.TotalMicroseconds;
                    if (v == 0)
                        for (int k = 0; k < reducers.Length; k++)
                            hideable[k * iterations + it] = Stopwatch.GetElapsedTime(stamps[reducers[k].Layout[0].FirstLayer], backwardEnd).TotalMicroseconds;
                }
            }
            world.AllReduce<double>(samples, ReduceOperation.Max);
            world.AllReduce<double>(hideable, ReduceOperation.Max);
            string Median(double[] a, int index, int n)
            {
                var part = a.AsSpan(index * n, n).ToArray();
                Array.Sort(part);
                return string.Create(CultureInfo.InvariantCulture, $"{part[n / 2]:F0} / {part[0]:F0}");
            }
            double MedianOf(double[] a, int index, int n)
            {
                var part = a.AsSpan(index * n, n).ToArray();
                Array.Sort(part);
                return part[n / 2];
            }
            string compute = Median(samples, 0, iterations), after = Median(samples, 1, iterations);
            for (int k = 0; k < reducers.Length; k++)
            {
                string overlapped = Median(samples, 2 + k, iterations);
                if (world.IsRoot)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {label} | {Networks.Title(name)} | {4L * count:N0} | {world.Size} | {caps[k]:N0} | {reducers[k].Layout.Count} | {4L * reducers[k].Layout[^1].Elements:N0} | {compute} | {Median(hideable, k, iterations)} | {after} | {overlapped} | {MedianOf(samples, 2 + k, iterations) / MedianOf(samples, 1, iterations):F2} |"));
                reducers[k].Dispose();
            }
            model.LayerBackwardCompleted = null;
        }
        return 0;
    }

    /// <summary>The ordered all-reduce and MPI_Allreduce over a range of buffer sizes (--sizes, in float32 elements), to fit
    /// the latency and bandwidth of the cost model; many iterations per size, because on a shared machine only the
    /// minimum is free of pre-emption.</summary>
    public static int Sweep(Communicator world, Options options)
    {
        int iterations = options.Int("iterations", 300);
        string label = options.String("label") ?? "";
        var sizes = (options.String("sizes") ?? "2,256,4096,32768,262144,1048576").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        if (world.IsRoot)
        {
            Console.WriteLine($"# all-reduce sweep, {world.Size} rank(s), {iterations} calls per size after 10 warm-up, slowest rank per call, float32{(label.Length > 0 ? ", " + label : "")}");
            Console.WriteLine("| link | bytes | ordered all-reduce µs, min / median | MPI_Allreduce µs, min / median |");
            Console.WriteLine("|---|---:|---:|---:|");
        }
        foreach (int count in sizes)
        {
            var buffer = new float[count];
            int n = count >= 262144 ? Math.Max(20, iterations / 4) : iterations;
            var ordered = Time(world, 10, n, () => { buffer.AsSpan().Fill(1f / 3); world.AllReduceSumOrdered<float>(buffer); });
            var native = Time(world, 10, n, () => { buffer.AsSpan().Fill(1f / 3); world.AllReduce<float>(buffer, ReduceOperation.Sum); });
            if (world.IsRoot)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {4L * count:N0} | {ordered.Min:F0} / {ordered.Median:F0} | {native.Min:F0} / {native.Median:F0} |"));
        }
        return 0;
    }

    /// <summary>Minimum and median over iterations of the slowest rank's time per call, in microseconds. On a shared,
    /// loaded machine the minimum is the better estimate of the uncontended cost; the median shows the contention.</summary>
    private static (double Min, double Median) Time(Communicator world, int warmup, int iterations, Action step)
    {
        for (int i = 0; i < warmup; i++) step();
        var samples = new double[iterations];
        var watch = new Stopwatch();
        for (int i = 0; i < iterations; i++)
        {
            world.Barrier();
            watch.Restart();
            step();
            watch.Stop();
            samples[i] = watch.Elapsed.TotalMicroseconds;
        }
        world.AllReduce<double>(samples, ReduceOperation.Max);
        Array.Sort(samples);
        return (samples[0], samples[iterations / 2]);
    }

    /// <summary>Network <paramref name="name"/> (seed 1), a batch of uniform noise (seed 2) with labels 0…9 in turn, and
    /// its loss: the same work on every rank and in every mode.</summary>
    private static (NeuralNet.Modules.Sequential<float> Model, NdArray<float> Input, int[] Labels, NeuralNet.Losses.SoftmaxCrossEntropyLoss<float> Loss)
        Problem(string name, int batch)
    {
        var model = Networks.Build(name, new RandomGenerator(1));
        var input = new NdArray<float>([batch, .. model.InputShape]);
        var rng = new RandomGenerator(2);
        for (int i = 0; i < input.Length; i++) input.Data[i] = (float)rng.NextDouble();
        var labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        return (model, input, labels, new NeuralNet.Losses.SoftmaxCrossEntropyLoss<float>());
    }
}
