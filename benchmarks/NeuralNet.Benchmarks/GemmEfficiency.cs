using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using NeuralNet.Kernels;

namespace NeuralNet.Benchmarks;

/// <summary>
/// Single-thread GEMM efficiency as a fraction of the core's FMA peak, measured in interleaved samples:
/// <c>gemm-efficiency [--sizes 512,1024] [--pairs 15] [--sample-ms 40]</c>.
/// </summary>
/// <remarks>
/// <para>The machines this runs on are shared virtual CPUs whose speed drifts by 20–40 % within seconds, and not
/// uniformly: the FMA-peak loop (registers only) hardly changes, while code that loads data slows down whenever another
/// tenant loads the core's caches. A peak measured once and a GEMM measured a minute later can be in different states,
/// so their quotient says more about the neighbour than about the kernel.</para>
/// <para>Here every sample times, back to back and a few tens of milliseconds each, the FMA-peak loop
/// (<see cref="FmaPeak"/>), the micro-kernel on L1-resident panels (a probe of the core's state: it reaches 96–98 % of
/// the peak on a free core) and the kernel under test, with the widest vectors the machine accelerates (Vector512: the
/// 12×32 micro-kernel; Vector256 with FMA: the 6×16 one). The figures are medians of the per-sample ratios kernel / peak:
/// over all samples, and split by the probe into samples where the core ran free (probe ≥ 90 % of peak) and samples
/// where it was loaded.</para>
/// </remarks>
internal static class GemmEfficiency
{
    private const double FreeCoreProbeRatio = 0.90;

    public static void Run(string[] args)
    {
        bool wide = Vector512.IsHardwareAccelerated;
        if (!wide && !(Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported))
        {
            Console.WriteLine("gemm-efficiency: neither Vector512 nor Vector256 with FMA is hardware-accelerated here; nothing to measure.");
            return;
        }
        var machine = ForWidestVector(wide);
        int samples = QuickGemm.GetOption(args, "--pairs", 15);
        double sampleSeconds = QuickGemm.GetOption(args, "--sample-ms", 40) / 1000.0;
        int[] sizes = QuickGemm.GetList(args, "--sizes", [512, 1024]);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = 1;
        try
        {
            Console.WriteLine($"# gemm-efficiency: single thread, {samples} samples of (FMA peak loop, micro-kernel probe, kernel), " +
                $"{sampleSeconds * 1000:0} ms each; ratios are kernel / peak per sample");
            Console.WriteLine($"{"kernel",-22} {"peak GF/s",9} {"kernel GF/s",11} {"all: median",12} {"q1",7} {"q3",7} " +
                $"{"core free: n",13} {"median",7} {"core loaded: n",15} {"median",7}");
            Report(machine, machine.ProbeName, machine.Probe, machine.ProbeFlops, samples, sampleSeconds);
            foreach (int n in sizes)
                Report(machine, $"sgemm {n}x{n}x{n}", GemmCall(n), 2.0 * n * n * n, samples, sampleSeconds);
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>The FMA-peak loop, its FLOPs per iteration, and the micro-kernel probe (a call and its FLOPs) of one vector width.</summary>
    private sealed record Machine(Func<long, float> Chains, double FlopsPerIteration, string ProbeName, Action Probe, double ProbeFlops);

    /// <summary>The depth of the probe's L1-resident panels.</summary>
    private const int ProbeKC = 256;

    /// <summary>The peak loop and the micro-kernel of the widest vector the GEMM itself uses.</summary>
    private static unsafe Machine ForWidestVector(bool wide)
    {
        QuickGemm.AllocatePanels(ProbeKC, out float* a, out float* b, out float* c);   // sized for the 12×32 kernel
        return wide
            ? new Machine(FmaPeak.Chains, FmaPeak.FlopsPerIteration, "micro-kernel 12x32 L1",
                () => GemmFloat512.Run(ProbeKC, a, b, 32, c, 32, false), 2.0 * 12 * 32 * ProbeKC)
            : new Machine(FmaPeak.Chains256, FmaPeak.FlopsPerIteration256, "micro-kernel 6x16 L1",
                () => GemmFloat256.Run(ProbeKC, a, b, 16, c, 16, false), 2.0 * 6 * 16 * ProbeKC);
    }

    private static void Report(Machine machine, string name, Action call, double flopsPerCall, int samples, double sampleSeconds)
    {
        Action probe = machine.Probe;
        double probeFlops = machine.ProbeFlops;
        // Warm up every side and size the samples.
        const long chainsWarm = 200_000;
        var sw = Stopwatch.StartNew();
        machine.Chains(chainsWarm);
        long chainIterations = Math.Max(1000, (long)(chainsWarm * sampleSeconds / sw.Elapsed.TotalSeconds));
        int perSample = CallsPerSample(call, sampleSeconds);
        int probeCalls = CallsPerSample(probe, sampleSeconds / 2);

        var peaks = new double[samples];
        var kernels = new double[samples];
        var ratios = new double[samples];
        var probeRatios = new double[samples];
        for (int i = 0; i < samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            machine.Chains(chainIterations);
            peaks[i] = chainIterations * machine.FlopsPerIteration / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            start = Stopwatch.GetTimestamp();
            for (int c = 0; c < probeCalls; c++) probe();
            probeRatios[i] = probeFlops * probeCalls / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9 / peaks[i];
            start = Stopwatch.GetTimestamp();
            for (int c = 0; c < perSample; c++) call();
            kernels[i] = flopsPerCall * perSample / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            ratios[i] = kernels[i] / peaks[i];
        }
        double[] free = ratios.Where((_, i) => probeRatios[i] >= FreeCoreProbeRatio).ToArray();
        double[] loaded = ratios.Where((_, i) => probeRatios[i] < FreeCoreProbeRatio).ToArray();
        double[] all = Sorted(ratios);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-22} {Median(peaks),9:0.0} {Median(kernels),11:0.0} {all[samples / 2] * 100,11:0.0}% {all[samples / 4] * 100,6:0.0}% " +
            $"{all[3 * samples / 4] * 100,6:0.0}% {free.Length,13} {Percent(free),7} {loaded.Length,15} {Percent(loaded),7}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT efficiency {name.Replace(' ', '_')} ratio_median={all[samples / 2]:0.000} free_samples={free.Length} " +
            $"free_ratio_median={(free.Length > 0 ? Median(free) : double.NaN):0.000} loaded_samples={loaded.Length} " +
            $"loaded_ratio_median={(loaded.Length > 0 ? Median(loaded) : double.NaN):0.000} peak_median={Median(peaks):0.0}"));
    }

    private static int CallsPerSample(Action call, double seconds)
    {
        call();
        var sw = Stopwatch.StartNew();
        int calls = 0;
        while (sw.Elapsed.TotalSeconds < Math.Max(0.05, seconds)) { call(); calls++; }
        return Math.Max(1, (int)(calls * seconds / sw.Elapsed.TotalSeconds));
    }

    private static double[] Sorted(double[] values)
    {
        double[] copy = values.ToArray();
        Array.Sort(copy);
        return copy;
    }

    private static double Median(double[] values) => Sorted(values)[values.Length / 2];

    private static string Percent(double[] values) =>
        values.Length == 0 ? "—" : (Median(values) * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static Action GemmCall(int n)
    {
        var rng = new RandomGenerator(1);
        float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
        return () => Kernels.Cpu.Gemm<float>(false, false, n, n, n, a, n, b, n, c, n, false);
    }
}
