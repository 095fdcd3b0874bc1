using System.Diagnostics;
using System.Globalization;
using NeuralNet.Kernels;

namespace NeuralNet.Benchmarks;

/// <summary>
/// In-process A/B of one kernel path against its alternative, in interleaved pairs:
/// <c>path-ab b-in-place [--shapes 16x64x150NN,…] [--threads 1] [--pairs 15] [--sample-ms 30]</c> times the GEMM with
/// a row-major B read in place (<see cref="Kernels.Kernels.ReadsBInPlace"/>) against the same product with B packed;
/// <c>path-ab finiteness</c> times the NaN/infinity search (<see cref="Finiteness.AllFinite{T}"/>) against
/// <c>TensorPrimitives.IsFiniteAll</c> on the networks' input sizes; <c>path-ab finiteness-threads</c> times the search
/// on the kernel threads against one thread, alone and inside training steps of the MLP and LeNet-5;
/// <c>path-ab rows-prefetch</c> times training steps with the in-place A kernel's row prefetch against without;
/// <c>path-ab conv-batched [--batch 128] [--threads 2]</c> times modern-cnn's two multi-channel convolutions (forward, then
/// backward) and its training step on the batched convolution path against the per-image one.
/// </summary>
/// <remarks>
/// The machines this runs on drift by 20–40 % within seconds, so the two sides are timed back to back, in alternating
/// order, and the figure is the median of the per-pair ratios (with the quartiles). Both sides must give the same bits;
/// the mode checks that first and says so.
/// </remarks>
internal static class PathAb
{
    public static void Run(string[] args)
    {
        string what = args.Length > 0 ? args[0] : "";
        string[] options = args.Length > 0 ? args[1..] : [];
        int pairs = QuickGemm.GetOption(options, "--pairs", 15);
        double seconds = QuickGemm.GetOption(options, "--sample-ms", 30) / 1000.0;
        switch (what)
        {
            case "b-in-place":
                BInPlace(options, pairs, seconds);
                break;
            case "finiteness":
                FinitenessSearch(pairs);
                break;
            case "finiteness-threads":
                FinitenessThreads(pairs);
                break;
            case "rows-prefetch":
                RowsPrefetch(options, pairs);
                break;
            case "conv-batched":
                ConvBatched(options, pairs);
                break;
            default:
                Console.Error.WriteLine("path-ab: expected 'b-in-place', 'finiteness', 'finiteness-threads', 'rows-prefetch' or 'conv-batched'.");
                Environment.ExitCode = 2;
                break;
        }
    }

    private static void BInPlace(string[] options, int pairs, double seconds)
    {
        int si = Array.IndexOf(options, "--shapes");
        string[] shapes = si >= 0 && si + 1 < options.Length
            ? options[si + 1].Split(',')
            : ["16x64x150NN", "12x64x150NN", "8x64x150NN", "16x784x256NN", "16x512x512NN", "13x1000x17TN"];
        int threads = QuickGemm.GetOption(options, "--threads", 1);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = threads;
        Console.WriteLine($"# path-ab b-in-place: {threads} thread(s), {pairs} interleaved pairs of {seconds * 1000:0} ms, Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
        try
        {
            foreach (string shape in shapes)
            {
                // MxNxK followed by the transpositions of A and B (N or T), e.g. 16x64x150NN.
                string[] d = shape[..^2].Split('x');
                int m = int.Parse(d[0], CultureInfo.InvariantCulture), n = int.Parse(d[1], CultureInfo.InvariantCulture);
                int k = int.Parse(d[2], CultureInfo.InvariantCulture);
                bool transA = shape[^2] == 'T', transB = shape[^1] == 'T';
                var rng = new RandomGenerator(1);
                float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
                for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
                for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
                int ldb = transB ? k : n;
                void Call() => Kernels.Kernels.Gemm<float>(transA, transB, m, n, k, a, transA ? m : k, b, ldb, c, n, false);
                Kernels.Kernels.BInPlaceEnabled = true;
                if (!Kernels.Kernels.ReadsBInPlace(transB, m, k, ldb))
                {
                    Console.WriteLine($"{shape,-16} outside the rule (B transposed, m > {Kernels.Kernels.GemmUnpackedBMaxRows} or k·ldb > {Kernels.Kernels.GemmUnpackedBMaxFloats}): both sides pack B");
                    continue;
                }
                var results = new float[2][];
                for (int side = 0; side < 2; side++)
                {
                    Kernels.Kernels.BInPlaceEnabled = side == 0;
                    Warm(Call);
                    results[side] = (float[])c.Clone();
                }
                bool same = results[0].AsSpan().SequenceEqual(results[1]);
                double flops = 2.0 * m * n * k;
                (double inPlace, double packed, double[] ratios) = Pairs(pairs,
                    () => { Kernels.Kernels.BInPlaceEnabled = true; return flops / Sample(Call, seconds) / 1e9; },
                    () => { Kernels.Kernels.BInPlaceEnabled = false; return flops / Sample(Call, seconds) / 1e9; });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{shape,-16} in place {inPlace,6:0.0} GF/s, packed {packed,6:0.0} GF/s, in place / packed median {ratios[pairs / 2]:0.00}× (q1 {ratios[pairs / 4]:0.00}, q3 {ratios[3 * pairs / 4]:0.00}), same bits: {same}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT path-ab b-in-place shape={shape} threads={threads} ratio_median={ratios[pairs / 2]:0.000} same_bits={same}"));
            }
        }
        finally
        {
            Kernels.Kernels.BInPlaceEnabled = true;
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    private static void FinitenessSearch(int pairs)
    {
        Console.WriteLine($"# path-ab finiteness: {pairs} interleaved pairs, Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
        // Each call reads the values at one of 8 offsets (0, 3, …, 21 floats) into a larger array, the same sequence for
        // both sides: how a span sits against the 64-byte cache lines changes these timings by up to 2×.
        float[] x = new float[256 * 784 + 32];
        for (int i = 0; i < x.Length; i++) x[i] = i % 255 / 255f;
        foreach ((string name, int length) in new[] { ("256x784 (MLP input)", 256 * 784), ("64x784 (LeNet input)", 64 * 784),
                     ("30x784 (deep MLP input)", 30 * 784), ("256x10 (logits)", 256 * 10) })
        {
            bool agree = Finiteness.AllFinite<float>(x.AsSpan(0, length)) == System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(x.AsSpan(0, length));
            int reps = Math.Max(24, 4_000_000 / length / 8 * 8);
            void Ours() { for (int r = 0; r < reps; r++) Finiteness.AllFinite<float>(x.AsSpan(r % 8 * 3, length)); }
            void Theirs() { for (int r = 0; r < reps; r++) System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(x.AsSpan(r % 8 * 3, length)); }
            Warm(Ours);
            Warm(Theirs);
            (double ours, double theirs, double[] ratios) = Pairs(pairs, () => Time(Ours) / reps, () => Time(Theirs) / reps);
            // Times here, so the ratio is theirs / ours: how many times faster the library's search is.
            double[] speedUps = ratios.Select(r => 1 / r).OrderBy(v => v).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-24} Finiteness.AllFinite {ours * 1e6,7:0.00} µs, TensorPrimitives.IsFiniteAll {theirs * 1e6,7:0.00} µs, speed-up median {speedUps[pairs / 2]:0.00}× (q1 {speedUps[pairs / 4]:0.00}, q3 {speedUps[3 * pairs / 4]:0.00}), same answer: {agree}"));
        }
    }

    /// <summary>
    /// The search on the kernel threads (2) against one thread, over 4 different 256 × 784 batches in turn (3.2 MB, more
    /// than a core's L2), the way a training loop meets its inputs.
    /// </summary>
    private static void FinitenessThreads(int pairs)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = 2;
        Console.WriteLine($"# path-ab finiteness-threads: 2 threads vs 1, {pairs} interleaved pairs, 4 batches of 256x784 in turn");
        try
        {
            var batches = new float[4][];
            for (int b = 0; b < batches.Length; b++)
            {
                batches[b] = new float[256 * 784];
                for (int i = 0; i < batches[b].Length; i++) batches[b][i] = (i + b) % 255 / 255f;
            }
            const int reps = 400;
            void Search() { for (int r = 0; r < reps; r++) Finiteness.AllFinite<float>(batches[r % 4]); }
            foreach (bool on in new[] { true, false })
            {
                Finiteness.ParallelEnabled = on;
                Warm(Search);
            }
            (double two, double one, double[] ratios) = Pairs(pairs,
                () => { Finiteness.ParallelEnabled = true; return Time(Search) / reps; },
                () => { Finiteness.ParallelEnabled = false; return Time(Search) / reps; });
            double[] speedUps = ratios.Select(r => 1 / r).OrderBy(v => v).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"256x784, 4 batches in turn: 2 threads {two * 1e6:0.00} µs, 1 thread {one * 1e6:0.00} µs, speed-up median {speedUps[pairs / 2]:0.00}× (q1 {speedUps[pairs / 4]:0.00}, q3 {speedUps[3 * pairs / 4]:0.00})"));
            // And whole training steps of the networks whose inputs are large enough to be searched in parallel.
            foreach (string name in new[] { "mlp", "lenet" })
                StepPairs(name, pairs, on => Finiteness.ParallelEnabled = on, "searches on 2 threads", "on 1");
        }
        finally
        {
            Finiteness.ParallelEnabled = true;
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>
    /// Whole training steps with the row prefetch of the in-place A micro-kernel at its setting against off
    /// (<c>--networks deep-mlp,mlp,lenet</c>, <c>--threads 2</c>).
    /// </summary>
    private static void RowsPrefetch(string[] options, int pairs)
    {
        int ni = Array.IndexOf(options, "--networks");
        string[] names = ni >= 0 && ni + 1 < options.Length ? options[ni + 1].Split(',') : ["deep-mlp", "mlp", "lenet"];
        int threads = QuickGemm.GetOption(options, "--threads", 2);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism, setting = Kernels.Kernels.GemmRowsPrefetchBytes;
        NeuralNetSettings.MaxDegreeOfParallelism = threads;
        Console.WriteLine($"# path-ab rows-prefetch: {setting} bytes ahead vs off, {threads} thread(s), {pairs} interleaved pairs of training steps");
        try
        {
            foreach (string name in names)
                StepPairs(name, pairs, on => Kernels.Kernels.GemmRowsPrefetchBytes = on ? setting : 0, "with prefetch", "without");
        }
        finally
        {
            Kernels.Kernels.GemmRowsPrefetchBytes = setting;
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>
    /// Training steps of one reference network with a path switched on against off, in interleaved pairs of about 10k
    /// samples' worth of steps each; prints the two medians and the speed-up (off / on).
    /// </summary>
    private static void ConvBatched(string[] options, int pairs)
    {
        int batch = QuickGemm.GetOption(options, "--batch", 128);
        int threads = QuickGemm.GetOption(options, "--threads", 2);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = threads;
        Console.WriteLine($"# path-ab conv-batched: batched vs per-image convolution, batch {batch}, {threads} thread(s), {pairs} interleaved pairs");
        try
        {
            // modern-cnn's conv2 (24 → 48, 3×3 same on 12×12) and conv3 (48 → 96, 3×3 on 6×6).
            foreach (var (c, oc, size, padding) in new[] { (24, 48, 12, 1), (48, 96, 6, 0) })
            {
                var conv = new Modules.Conv2D<float>(c, oc, 3, 1, padding, bias: false, new RandomGenerator(1));
                var rng = new RandomGenerator(2);
                var x = new NdArray<float>(batch, c, size, size);
                for (int i = 0; i < x.Length; i++) x.Data[i] = (float)(rng.NextDouble() * 2 - 1);
                int outSize = size + 2 * padding - 2;
                var dy = new NdArray<float>(batch, oc, outSize, outSize);
                for (int i = 0; i < dy.Length; i++) dy.Data[i] = (float)(rng.NextDouble() * 2 - 1);
                double forward = 0, backward = 0;
                void Pass()
                {
                    long t0 = Stopwatch.GetTimestamp();
                    conv.Forward(x, training: true);
                    long t1 = Stopwatch.GetTimestamp();
                    conv.Backward(dy);
                    forward += Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
                    backward += Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
                }
                var times = new Dictionary<bool, List<(double Forward, double Backward)>> { [true] = [], [false] = [] };
                double Side(bool on)
                {
                    Kernels.Kernels.ConvBatchedEnabled = on;
                    forward = backward = 0;
                    const int passes = 5;
                    for (int i = 0; i < passes; i++) Pass();
                    times[on].Add((forward / passes, backward / passes));
                    return (forward + backward) / passes;
                }
                Side(true);
                Side(false);
                times[true].Clear();
                times[false].Clear();
                (double on, double off, double[] ratios) = Pairs(pairs, () => Side(true), () => Side(false));
                double Median(bool side, Func<(double Forward, double Backward), double> pick) => times[side].Select(pick).Order().ElementAt(times[side].Count / 2);
                double[] speedUps = ratios.Select(r => 1 / r).OrderBy(v => v).ToArray();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"conv {c}->{oc} {size}x{size}: batched fwd {Median(true, t => t.Forward):0.000} bwd {Median(true, t => t.Backward):0.000} ms, per-image fwd {Median(false, t => t.Forward):0.000} bwd {Median(false, t => t.Backward):0.000} ms (medians), speed-up of fwd+bwd median {speedUps[pairs / 2]:0.00}× (q1 {speedUps[pairs / 4]:0.00}, q3 {speedUps[3 * pairs / 4]:0.00})"));
            }
            StepPairs($"modern-cnn@{batch}", pairs, on => Kernels.Kernels.ConvBatchedEnabled = on, "batched", "per-image");
        }
        finally
        {
            Kernels.Kernels.ConvBatchedEnabled = true;
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    private static void StepPairs(string name, int pairs, Action<bool> setPath, string onLabel, string offLabel)
    {
        var net = ReferenceNetworks.CreateNamed(name);
        long step = 0;
        int steps = Math.Max(4, 10_000 / net.BatchSize);
        void Steps() { for (int i = 0; i < steps; i++) net.Step(step++); }
        foreach (bool on in new[] { true, false })
        {
            setPath(on);
            Warm(Steps);
        }
        (double withPath, double without, double[] ratios) = Pairs(pairs,
            () => { setPath(true); return Time(Steps) / steps; },
            () => { setPath(false); return Time(Steps) / steps; });
        setPath(true);
        double[] speedUps = ratios.Select(r => 1 / r).OrderBy(v => v).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-10} training step {onLabel} {withPath * 1e3:0.000} ms, {offLabel} {without * 1e3:0.000} ms, speed-up median {speedUps[pairs / 2]:0.000}× (q1 {speedUps[pairs / 4]:0.000}, q3 {speedUps[3 * pairs / 4]:0.000})"));
    }

    /// <summary>Runs both sides <paramref name="pairs"/> times in alternating order; medians of each and the sorted ratios a/b.</summary>
    private static (double A, double B, double[] Ratios) Pairs(int pairs, Func<double> a, Func<double> b)
    {
        var first = new double[pairs];
        var second = new double[pairs];
        for (int p = 0; p < pairs; p++)
        {
            if (p % 2 == 0)
            {
                first[p] = a();
                second[p] = b();
            }
            else
            {
                second[p] = b();
                first[p] = a();
            }
        }
        double[] ratios = first.Zip(second, (x, y) => x / y).OrderBy(v => v).ToArray();
        return (first.Order().ElementAt(pairs / 2), second.Order().ElementAt(pairs / 2), ratios);
    }

    // At least a second per side before timing: the JIT promotes hot methods to optimized code only after a delay.
    private static void Warm(Action call)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 1.0) call();
    }

    /// <summary>Seconds per call, over a sample of at least <paramref name="seconds"/>.</summary>
    private static double Sample(Action call, double seconds)
    {
        int calls = 0;
        long start = Stopwatch.GetTimestamp();
        do
        {
            call();
            calls++;
        }
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < seconds);
        return Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
    }

    private static double Time(Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
