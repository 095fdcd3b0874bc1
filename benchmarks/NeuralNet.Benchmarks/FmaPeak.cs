using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Benchmarks;

/// <summary>
/// Measures the machine's FP32 FMA peak with every core busy: one thread per core (<c>--threads N</c>, default all
/// logical processors) runs independent FMA chains of the widest accelerated vector at the same time, and the figure is
/// the FLOPs of all threads per CPU-second of one thread × the thread count, so other load on the machine (which takes
/// CPU time away, not FLOPs per CPU-second) does not lower it; the wall-clock rate is printed beside it.
/// The chains must hide the FMA latency on every FMA pipe and stay in registers: Vector512 uses 24 chains (32 zmm
/// registers), Vector256 12 chains (16 ymm registers hold 12 accumulators and the two constants; 24 would spill to the
/// stack and measure the loads and stores instead of the FMAs).
/// Running all cores at once matters: a single busy core may clock higher than all of them together, and a kernel that
/// uses every core is compared with what every core can do together.
/// Prints the median of <c>--rounds</c> runs (default 7) of about a second each. Run with
/// <c>dotnet run -c Release --project benchmarks/NeuralNet.Benchmarks -- fma-peak [--threads N] [--rounds R]</c>.
/// </summary>
internal static class FmaPeak
{
    /// <summary>Floating-point operations in one iteration of <see cref="Chains"/>: 24 FMAs of 16 lanes.</summary>
    internal const double FlopsPerIteration = 24.0 * 16 * 2;

    /// <summary>Floating-point operations in one iteration of <see cref="Chains256"/>: 12 FMAs of 8 lanes.</summary>
    internal const double FlopsPerIteration256 = 12.0 * 8 * 2;

    public static void Run(string[] args)
    {
        int threads = Environment.ProcessorCount, rounds = 7;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads" && i + 1 < args.Length && int.TryParse(args[i + 1], out int t) && t >= 1) { threads = t; i++; }
            else if (args[i] == "--rounds" && i + 1 < args.Length && int.TryParse(args[i + 1], out int r) && r is >= 1 and <= 100) { rounds = r; i++; }
            else throw new ArgumentException($"fma-peak: unknown or invalid argument '{args[i]}'; expected --threads N (N >= 1) or --rounds R (1 to 100).");
        }
        bool wide = Vector512.IsHardwareAccelerated;
        if (!wide && !(Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported))
        {
            Console.WriteLine("fma-peak: neither Vector512 nor Vector256 with FMA is hardware-accelerated here; nothing to measure.");
            return;
        }
        Func<long, float> chains = wide ? Chains : Chains256;
        double flopsPerIteration = wide ? FlopsPerIteration : FlopsPerIteration256;
        Console.WriteLine($"fma-peak: {(wide ? "24 chains of Vector512" : "12 chains of Vector256")} FMAs on {threads} thread(s) at once");

        // About 1 s per thread and round on a 2-3 GHz core.
        long iterations = wide ? 40_000_000 : 200_000_000;
        chains(1000); // JIT and warm up
        var perCpuSecond = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            using var ready = new Barrier(threads + 1);
            var sinks = new float[threads];
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                int index = t;
                workers[t] = new Thread(() => { ready.SignalAndWait(); sinks[index] = chains(iterations); }) { IsBackground = true };
                workers[t].Start();
            }
            ready.SignalAndWait();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            foreach (var w in workers) w.Join();
            double wallSeconds = wall.Elapsed.TotalSeconds;
            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            double flops = iterations * flopsPerIteration * threads;
            // CPU seconds of all threads / threads = the CPU time of one thread: FLOPs per CPU-second × threads.
            double all = flops / (cpuSeconds / threads) / 1e9;
            perCpuSecond.Add(all);
            Console.WriteLine($"run {r + 1}: {all,7:F1} GFLOP/s of {threads} thread(s) per CPU-second each ({all / threads:F1} per core), " +
                $"{flops / wallSeconds / 1e9,7:F1} GFLOP/s wall (sink {sinks.Sum():G3})");
        }

        perCpuSecond.Sort();
        double median = perCpuSecond[perCpuSecond.Count / 2];
        Console.WriteLine($"RESULT fma-peak threads={threads} gflops_all_threads_median={median:F1} gflops_per_core_median={median / threads:F1}");
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float Chains(long iterations)
    {
        var b = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
            a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0,
            a16 = a0, a17 = a0, a18 = a0, a19 = a0, a20 = a0, a21 = a0, a22 = a0, a23 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, b, c); a1 = Vector512.FusedMultiplyAdd(a1, b, c);
            a2 = Vector512.FusedMultiplyAdd(a2, b, c); a3 = Vector512.FusedMultiplyAdd(a3, b, c);
            a4 = Vector512.FusedMultiplyAdd(a4, b, c); a5 = Vector512.FusedMultiplyAdd(a5, b, c);
            a6 = Vector512.FusedMultiplyAdd(a6, b, c); a7 = Vector512.FusedMultiplyAdd(a7, b, c);
            a8 = Vector512.FusedMultiplyAdd(a8, b, c); a9 = Vector512.FusedMultiplyAdd(a9, b, c);
            a10 = Vector512.FusedMultiplyAdd(a10, b, c); a11 = Vector512.FusedMultiplyAdd(a11, b, c);
            a12 = Vector512.FusedMultiplyAdd(a12, b, c); a13 = Vector512.FusedMultiplyAdd(a13, b, c);
            a14 = Vector512.FusedMultiplyAdd(a14, b, c); a15 = Vector512.FusedMultiplyAdd(a15, b, c);
            a16 = Vector512.FusedMultiplyAdd(a16, b, c); a17 = Vector512.FusedMultiplyAdd(a17, b, c);
            a18 = Vector512.FusedMultiplyAdd(a18, b, c); a19 = Vector512.FusedMultiplyAdd(a19, b, c);
            a20 = Vector512.FusedMultiplyAdd(a20, b, c); a21 = Vector512.FusedMultiplyAdd(a21, b, c);
            a22 = Vector512.FusedMultiplyAdd(a22, b, c); a23 = Vector512.FusedMultiplyAdd(a23, b, c);
        }

        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
            + ((a12 + a13) + (a14 + a15)) + ((a16 + a17) + (a18 + a19)) + ((a20 + a21) + (a22 + a23));
        return Vector512.Sum(s);
    }

    /// <summary>The 256-bit chains for a CPU without AVX-512: 12 FMAs of 8 lanes per iteration, all in registers.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float Chains256(long iterations)
    {
        var b = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
            a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, b, c); a1 = Vector256.FusedMultiplyAdd(a1, b, c);
            a2 = Vector256.FusedMultiplyAdd(a2, b, c); a3 = Vector256.FusedMultiplyAdd(a3, b, c);
            a4 = Vector256.FusedMultiplyAdd(a4, b, c); a5 = Vector256.FusedMultiplyAdd(a5, b, c);
            a6 = Vector256.FusedMultiplyAdd(a6, b, c); a7 = Vector256.FusedMultiplyAdd(a7, b, c);
            a8 = Vector256.FusedMultiplyAdd(a8, b, c); a9 = Vector256.FusedMultiplyAdd(a9, b, c);
            a10 = Vector256.FusedMultiplyAdd(a10, b, c); a11 = Vector256.FusedMultiplyAdd(a11, b, c);
        }

        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
        return Vector256.Sum(s);
    }
}
