using System.Diagnostics;
using System.Globalization;
using NeuralNet.Kernels;

namespace NeuralNet.Benchmarks;

/// <summary>
/// A quick, non-BenchmarkDotNet GEMM timer: <c>gemm-quick</c> prints median GFLOP/s for square sizes at 1 and 2 threads
/// (the peers script parses its <c>RESULT</c> lines); <c>shapes-quick</c> does the same for the MNIST network shapes.
/// </summary>
internal static class QuickGemm
{
    /// <summary>One shape: C (m×n) = op(A)·op(B) with inner size k.</summary>
    internal readonly record struct Shape(string Name, int M, int N, int K, bool TransA, bool TransB);

    public static void Run(string mode, string[] args)
    {
        int samples = GetOption(args, "--samples", 7);
        double minSampleSeconds = GetOption(args, "--sample-ms", 60) / 1000.0;
        int[] threadCounts = GetList(args, "--threads", [1, 2]);
        Shape[] shapes = mode == "shapes-quick"
            ? NetworkShapes()
            : GetList(args, "--sizes", [128, 256, 512, 1024]).Select(s => new Shape($"{s}x{s}x{s}", s, s, s, false, false)).ToArray();

        Console.WriteLine($"# {mode}: median of {samples} samples (each >= {minSampleSeconds * 1000:0} ms), " +
            $"Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, {Environment.ProcessorCount} logical CPUs");
        Console.WriteLine($"{"shape",-28} {"threads",7} {"GFLOP/s",9} {"min",8} {"max",8} {"us/call",10} {"GF/s/cpu-s",10}");
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (Shape shape in shapes)
            foreach (int threads in threadCounts)
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                (double median, double min, double max, double usPerCall, double perCpu) = Measure(shape, samples, minSampleSeconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{shape.Name,-28} {threads,7} {median,9:0.0} {min,8:0.0} {max,8:0.0} {usPerCall,10:0.0} {perCpu,10:0.0}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT gemm {shape.Name} m={shape.M} n={shape.N} k={shape.K} threads={threads} gflops={median:0.00}"));
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>The micro-kernel alone on L1-resident panels: the ceiling for the blocked GEMM.</summary>
    public static unsafe void MicroKernel()
    {
        const int kc = 256;
        AllocatePanels(kc, out float* a, out float* b, out float* c);
        for (int rep = 0; rep < 5; rep++)
        {
            int iters = 20000;
            TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iters; i++) GemmFloat512.Run(kc, a, b, 32, c, 32, false);
            double s = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            double flops = 2.0 * 12 * 32 * kc * iters;
            Console.WriteLine($"micro-kernel 12x32 kc={kc}: {flops / s / 1e9:0.0} GFLOP/s wall, {flops / cpu / 1e9:0.0} per cpu-s");
            cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iters * 4; i++) GemmFloat256.Run(kc, a, b, 16, c, 16, false);
            s = Stopwatch.GetElapsedTime(start).TotalSeconds;
            cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            flops = 2.0 * 6 * 16 * kc * iters * 4;
            Console.WriteLine($"micro-kernel 6x16 (256-bit) kc={kc}: {flops / s / 1e9:0.0} GFLOP/s wall, {flops / cpu / 1e9:0.0} per cpu-s");
        }
    }

    /// <summary>
    /// Packed panels for one 12×32 micro-kernel tile with <paramref name="kc"/> k steps (64-byte aligned native memory,
    /// kept for the life of the process): 12 KiB of A and 32 KiB of B at kc = 256, so both stay in L1.
    /// </summary>
    internal static unsafe void AllocatePanels(int kc, out float* a, out float* b, out float* c)
    {
        a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(12 * kc * 4), 64);
        b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(32 * kc * 4), 64);
        c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(12 * 32 * 4, 64);
        for (int i = 0; i < 12 * kc; i++) a[i] = 0.001f * i;
        for (int i = 0; i < 32 * kc; i++) b[i] = 0.002f * i;
    }

    internal static Shape[] NetworkShapes() =>
    [
        // MLP 784-64-10, batch 256: forward x·Wᵀ, input gradient dy·W, weight gradient dyᵀ·x.
        new("mlp64 fwd 256x64x784 NT", 256, 64, 784, false, true),
        new("mlp64 dx 256x784x64 NN", 256, 784, 64, false, false),
        new("mlp64 dW 64x784x256 TN", 64, 784, 256, true, false),
        // MLP 784-400-100-25-10, batch 30.
        new("mlp400 fwd 30x400x784 NT", 30, 400, 784, false, true),
        new("mlp400 dx 30x784x400 NN", 30, 784, 400, false, false),
        new("mlp400 dW 400x784x30 TN", 400, 784, 30, true, false),
        // LeNet-5 batch 64, per image (as Conv2D runs them): conv1 W(6×25)·cols(25×576); conv2 W(16×150)·cols(150×64),
        // with the weight gradients dY·colsᵀ and the column gradient Wᵀ·dY.
        new("lenet c1 fwd 6x576x25 NN", 6, 576, 25, false, false),
        new("lenet c1 dW 6x25x576 NT", 6, 25, 576, false, true),
        new("lenet c2 fwd 16x64x150 NN", 16, 64, 150, false, false),
        new("lenet c2 dcols 150x64x16 TN", 150, 64, 16, true, false),
        new("lenet c2 dW 16x150x64 NT", 16, 150, 64, false, true),
        // Small CNN, batch 1: conv 8@3×3 on 28×28.
        new("cnn c1 fwd 8x676x9 NN", 8, 676, 9, false, false),
        new("cnn c1 dW 8x9x676 NT", 8, 9, 676, false, true),
        new("lenet fc1 fwd 64x120x400 NT", 64, 120, 400, false, true),
        // Small CNN, batch 1: dense 8·13·13 → 20 forward, input gradient and weight gradient.
        new("cnn fc fwd 1x20x1352 NT", 1, 20, 1352, false, true),
        new("cnn fc dx 1x1352x20 NN", 1, 1352, 20, false, false),
        new("cnn fc dW 20x1352x1 TN", 20, 1352, 1, true, false),
    ];

    private static (double Median, double Min, double Max, double UsPerCall, double PerCpu) Measure(Shape s, int samples, double minSampleSeconds)
    {
        var rng = new RandomGenerator(1);
        float[] a = Fill(s.M * s.K, rng), b = Fill(s.K * s.N, rng), c = new float[s.M * s.N];
        int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
        void Call() => Kernels.Cpu.Gemm<float>(s.TransA, s.TransB, s.M, s.N, s.K, a, lda, b, ldb, c, s.N, false);

        // Warm up (JIT tiers, pack buffers, worker threads) and find an iteration count per sample.
        var sw = Stopwatch.StartNew();
        int iterations = 0;
        while (sw.Elapsed.TotalSeconds < Math.Max(0.2, minSampleSeconds)) { Call(); iterations++; }
        int perSample = Math.Max(1, (int)(iterations * minSampleSeconds / sw.Elapsed.TotalSeconds));

        double flops = 2.0 * s.M * s.N * s.K;
        var results = new double[samples];
        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        for (int r = 0; r < samples; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < perSample; i++) Call();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            results[r] = flops * perSample / seconds / 1e9;
        }
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        // GFLOP per CPU-second: what one core achieves while it runs, much less sensitive to other processes' load
        // than wall-clock time (it includes the workers' spinning, so it understates multi-threaded efficiency).
        double perCpu = flops * perSample * samples / cpuSeconds / 1e9;
        Array.Sort(results);
        double median = results[samples / 2];
        return (median, results[0], results[^1], flops / median / 1e3, perCpu);
    }

    private static float[] Fill(int length, RandomGenerator rng)
    {
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return data;
    }

    /// <summary>The integer after <paramref name="name"/> in the arguments, or <paramref name="fallback"/>.</summary>
    internal static int GetOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>The comma-separated integers after <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    internal static int[] GetList(string[] args, string name, int[] fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length
            ? args[i + 1].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray()
            : fallback;
    }
}
