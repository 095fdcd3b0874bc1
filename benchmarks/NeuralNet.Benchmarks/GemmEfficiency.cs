using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using NeuralNet.Kernels;

namespace NeuralNet.Benchmarks;

/// <summary>
/// Single-thread GEMM efficiency as a fraction of the core's FMA peak, measured in interleaved pairs:
/// <c>gemm-efficiency [--sizes 512,1024] [--pairs 15] [--sample-ms 40]</c>.
/// </summary>
/// <remarks>
/// The machines this runs on are shared virtual CPUs whose speed drifts by 20–40 % within seconds (another tenant on the
/// sibling hyperthread, frequency changes). A peak measured once and a GEMM measured a minute later can be in different
/// states, so their quotient says more about the neighbour than about the kernel. Here every pair times the FMA-peak
/// loop (<see cref="FmaPeak"/>) and then the GEMM back to back, a few tens of milliseconds each, and the figure quoted
/// is the median of the per-pair ratios (with the medians of each side for reference). The micro-kernel alone on
/// L1-resident panels is measured the same way, as the ceiling the blocked GEMM can reach.
/// </remarks>
internal static class GemmEfficiency
{
    public static void Run(string[] args)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            Console.WriteLine("gemm-efficiency: Vector512 is not hardware-accelerated here; the peak loop needs it.");
            return;
        }
        int pairs = GetOption(args, "--pairs", 15);
        double sampleSeconds = GetOption(args, "--sample-ms", 40) / 1000.0;
        int[] sizes = GetList(args, "--sizes", [512, 1024]);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = 1;
        try
        {
            Console.WriteLine($"# gemm-efficiency: single thread, {pairs} pairs of (FMA peak loop, kernel), {sampleSeconds * 1000:0} ms each");
            Console.WriteLine($"{"kernel",-24} {"peak GF/s",10} {"kernel GF/s",12} {"ratio median",13} {"ratio q1",10} {"ratio q3",10}");
            Report("micro-kernel 12x32 L1", MicroKernelCall(), 2.0 * 12 * 32 * 256, pairs, sampleSeconds);
            foreach (int n in sizes)
                Report($"sgemm {n}x{n}x{n}", GemmCall(n), 2.0 * n * n * n, pairs, sampleSeconds);
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    private static void Report(string name, Action call, double flopsPerCall, int pairs, double sampleSeconds)
    {
        const int variants = 1;
        // Warm up both sides and size the samples.
        const long chainsWarm = 200_000;
        var sw = Stopwatch.StartNew();
        FmaPeak.Chains(chainsWarm);
        long chainIterations = Math.Max(1000, (long)(chainsWarm * sampleSeconds / sw.Elapsed.TotalSeconds));
        call();
        sw.Restart();
        int calls = 0;
        while (sw.Elapsed.TotalSeconds < Math.Max(0.1, sampleSeconds)) { call(); calls++; }
        int perSample = Math.Max(1, (int)(calls * sampleSeconds / sw.Elapsed.TotalSeconds));

        var peaks = new double[variants, pairs];
        var kernels = new double[variants, pairs];
        var ratios = new double[variants, pairs];
        for (int i = 0; i < pairs; i++)
        for (int v = 0; v < variants; v++)
        {
            long start = Stopwatch.GetTimestamp();
            FmaPeak.Chains(chainIterations);
            peaks[v, i] = chainIterations * FmaPeak.FlopsPerIteration / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            start = Stopwatch.GetTimestamp();
            for (int c = 0; c < perSample; c++) call();
            kernels[v, i] = flopsPerCall * perSample / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            ratios[v, i] = kernels[v, i] / peaks[v, i];
        }
        for (int v = 0; v < variants; v++)
        {
            double[] p = Row(peaks, v), k = Row(kernels, v), r = Row(ratios, v);
            string label = variants > 1 ? $"{name} v{v}" : name;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label,-24} {p[pairs / 2],10:0.0} {k[pairs / 2],12:0.0} {r[pairs / 2] * 100,12:0.0}% {r[pairs / 4] * 100,9:0.0}% {r[3 * pairs / 4] * 100,9:0.0}%"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT efficiency {label.Replace(' ', '_')} ratio_median={r[pairs / 2]:0.000} peak_median={p[pairs / 2]:0.0} kernel_median={k[pairs / 2]:0.0}"));
        }
    }

    private static double[] Row(double[,] values, int row)
    {
        var result = new double[values.GetLength(1)];
        for (int i = 0; i < result.Length; i++) result[i] = values[row, i];
        Array.Sort(result);
        return result;
    }

    private static unsafe Action MicroKernelCall()
    {
        const int kc = 256;
        float* a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(12 * kc * 4, 64);
        float* b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(32 * kc * 4, 64);
        float* c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(12 * 32 * 4, 64);
        for (int i = 0; i < 12 * kc; i++) a[i] = 0.001f * i;
        for (int i = 0; i < 32 * kc; i++) b[i] = 0.002f * i;
        return () => GemmFloat512.Run(kc, a, b, c, 32, false);
    }

    private static Action GemmCall(int n)
    {
        var rng = new RandomGenerator(1);
        float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
        return () => Kernels.Kernels.Gemm<float>(false, false, n, n, n, a, n, b, n, c, n, false);
    }

    private static int GetOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static int[] GetList(string[] args, string name, int[] fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length
            ? args[i + 1].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray()
            : fallback;
    }
}
