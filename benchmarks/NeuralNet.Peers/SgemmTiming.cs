using System.Diagnostics;

namespace NeuralNet.Peers;

/// <summary>
/// The SGEMM timing shared by the NeuralNet and TorchSharp sides (peers.py does the same for NumPy and PyTorch), so every
/// framework's figure comes from one procedure.
/// </summary>
internal static class SgemmTiming
{
    /// <summary>Times <paramref name="multiply"/> (one n×n×n product) and emits its JSON line for <paramref name="framework"/>.</summary>
    public static void Measure(string framework, int n, Action multiply, Options options)
    {
        multiply();
        // Calibrate the call count so one timed run lasts about 0.2 s, from the fastest of at least 3 calls and 0.05 s of
        // calls (a single call can stall on a busy machine).
        long tStart = Stopwatch.GetTimestamp();
        int probe = 0;
        double one = double.PositiveInfinity;
        while (probe < 3 || Stopwatch.GetElapsedTime(tStart).TotalSeconds < 0.05)
        {
            long t0 = Stopwatch.GetTimestamp();
            multiply();
            one = Math.Min(one, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            probe++;
        }
        int calls = Math.Max(1, (int)(0.2 / Math.Max(one, 1e-9)));

        var rates = new List<double>();
        double used = 0;
        for (int r = 0; r < options.Repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int k = 0; k < calls; k++) multiply();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            rates.Add(2.0 * n * n * (double)n * calls / seconds / 1e9);
            used += seconds;
            if (used > options.Budget) break;
        }
        Json.Emit(new()
        {
            ["framework"] = framework, ["kind"] = "sgemm", ["n"] = n, ["calls"] = calls, ["repeats"] = rates.Count,
            ["gflops"] = Json.Median(rates), ["all"] = rates, ["threads"] = options.Threads,
        });
    }
}
