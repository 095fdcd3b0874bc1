using System.Diagnostics;

namespace NeuralNet.Peers;

/// <summary>Times square single-precision GEMM, C = A·B, through the library's internal <c>Kernels.Gemm</c>.</summary>
internal static class SgemmBenchmark
{
    public static void Run(Options options)
    {
        var random = new RandomGenerator(7);
        foreach (int n in options.Sizes)
        {
            var a = new float[n * n];
            var b = new float[n * n];
            var c = new float[n * n];
            for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextGaussian();
            for (int i = 0; i < b.Length; i++) b[i] = (float)random.NextGaussian();

            void Multiply() => Kernels.Kernels.Gemm<float>(false, false, n, n, n, a, n, b, n, c, n, accumulate: false);

            Multiply();
            // Calibrate the call count so one timed run lasts about 0.2 s, from the fastest of at least 3 calls and
            // 0.05 s of calls (peers.py does the same; a single call can stall on a busy machine).
            long tStart = Stopwatch.GetTimestamp();
            int probe = 0;
            double one = double.PositiveInfinity;
            while (probe < 3 || Stopwatch.GetElapsedTime(tStart).TotalSeconds < 0.05)
            {
                long t0 = Stopwatch.GetTimestamp();
                Multiply();
                one = Math.Min(one, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                probe++;
            }
            int calls = Math.Max(1, (int)(0.2 / Math.Max(one, 1e-9)));

            var rates = new List<double>();
            double used = 0;
            for (int r = 0; r < options.Repeats; r++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int k = 0; k < calls; k++) Multiply();
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                rates.Add(2.0 * n * n * (double)n * calls / seconds / 1e9);
                used += seconds;
                if (used > options.Budget) break;
            }
            Json.Emit(new()
            {
                ["framework"] = "neuralnet", ["kind"] = "sgemm", ["n"] = n, ["calls"] = calls, ["repeats"] = rates.Count,
                ["gflops"] = Json.Median(rates), ["all"] = rates, ["threads"] = options.Threads,
            });
        }
    }
}
