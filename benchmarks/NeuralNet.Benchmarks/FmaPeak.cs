using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Benchmarks;

/// <summary>
/// Measures the machine's single-core FP32 FMA peak: 24 independent FMA chains of the widest accelerated vector
/// (Vector512, else Vector256; enough to cover the FMA latency on two pipes), timed by the process's CPU time so that
/// other load on the machine does not count.
/// Run with <c>dotnet run -c Release --project benchmarks/NeuralNet.Benchmarks -- fma-peak</c>.
/// </summary>
internal static class FmaPeak
{
    /// <summary>Floating-point operations in one iteration of <see cref="Chains"/>: 24 FMAs of 16 lanes.</summary>
    internal const double FlopsPerIteration = 24.0 * 16 * 2;

    public static void Run()
    {
        bool wide = Vector512.IsHardwareAccelerated;
        if (!wide && !(Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported))
        {
            Console.WriteLine("fma-peak: neither Vector512 nor Vector256 with FMA is hardware-accelerated here; nothing to measure.");
            return;
        }
        Func<long, float> chains = wide ? Chains : Chains256;
        double flopsPerIteration = wide ? FlopsPerIteration : FlopsPerIteration / 2;
        Console.WriteLine($"fma-peak: 24 chains of {(wide ? "Vector512" : "Vector256")} FMAs");

        const long iterations = 20_000_000;
        chains(1000); // JIT and warm up
        var results = new List<double>();
        for (int r = 0; r < 7; r++)
        {
            var cpu = Process.GetCurrentProcess().UserProcessorTime;
            var wall = Stopwatch.StartNew();
            float sink = chains(iterations);
            double cpuSeconds = (Process.GetCurrentProcess().UserProcessorTime - cpu).TotalSeconds;
            double flops = iterations * flopsPerIteration;
            results.Add(flops / cpuSeconds / 1e9);
            Console.WriteLine($"run {r + 1}: {flops / cpuSeconds / 1e9,7:F1} GFLOP per CPU-second, {flops / wall.Elapsed.TotalSeconds / 1e9,7:F1} GFLOP/s wall (sink {sink:G3})");
        }

        results.Sort();
        Console.WriteLine($"RESULT fma-peak gflops_per_cpu_second_median={results[results.Count / 2]:F1}");
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

    /// <summary>The 256-bit chains of <see cref="Chains"/>, for a CPU without AVX-512: 24 FMAs of 8 lanes per iteration.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float Chains256(long iterations)
    {
        var b = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
            a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0,
            a16 = a0, a17 = a0, a18 = a0, a19 = a0, a20 = a0, a21 = a0, a22 = a0, a23 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, b, c); a1 = Vector256.FusedMultiplyAdd(a1, b, c);
            a2 = Vector256.FusedMultiplyAdd(a2, b, c); a3 = Vector256.FusedMultiplyAdd(a3, b, c);
            a4 = Vector256.FusedMultiplyAdd(a4, b, c); a5 = Vector256.FusedMultiplyAdd(a5, b, c);
            a6 = Vector256.FusedMultiplyAdd(a6, b, c); a7 = Vector256.FusedMultiplyAdd(a7, b, c);
            a8 = Vector256.FusedMultiplyAdd(a8, b, c); a9 = Vector256.FusedMultiplyAdd(a9, b, c);
            a10 = Vector256.FusedMultiplyAdd(a10, b, c); a11 = Vector256.FusedMultiplyAdd(a11, b, c);
            a12 = Vector256.FusedMultiplyAdd(a12, b, c); a13 = Vector256.FusedMultiplyAdd(a13, b, c);
            a14 = Vector256.FusedMultiplyAdd(a14, b, c); a15 = Vector256.FusedMultiplyAdd(a15, b, c);
            a16 = Vector256.FusedMultiplyAdd(a16, b, c); a17 = Vector256.FusedMultiplyAdd(a17, b, c);
            a18 = Vector256.FusedMultiplyAdd(a18, b, c); a19 = Vector256.FusedMultiplyAdd(a19, b, c);
            a20 = Vector256.FusedMultiplyAdd(a20, b, c); a21 = Vector256.FusedMultiplyAdd(a21, b, c);
            a22 = Vector256.FusedMultiplyAdd(a22, b, c); a23 = Vector256.FusedMultiplyAdd(a23, b, c);
        }

        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
            + ((a12 + a13) + (a14 + a15)) + ((a16 + a17) + (a18 + a19)) + ((a20 + a21) + (a22 + a23));
        return Vector256.Sum(s);
    }
}
