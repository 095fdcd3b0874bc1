using System.Diagnostics;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>step-quick [steps] [network…]</c>: times training steps of the reference networks without BenchmarkDotNet and counts
/// the bytes they allocate, on the calling thread and in the whole process, at 1 and 2 kernel threads, and the process CPU
/// time per step ("cpu ms").
/// </summary>
internal static class StepQuick
{
    // Process CPU time (every thread, kernel workers' spinning included): on a shared machine it tracks the work done
    // better than wall-clock time, which also counts the time the process waits for a core. Read outside the
    // allocation window because it allocates.
    private static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    public static void Run(string[] args)
    {
        int steps = args.Length > 0 && int.TryParse(args[0], out int s) ? s : 200;
        string[] names = args.Length > 1 ? args[1..] : BenchmarkNetworks.Names;
        Console.WriteLine($"{"network",-10} {"thr",3} {"batch",5} {"median ms",10} {"mean ms",9} {"samples/s",10} {"thread B",9} {"process B",10} {"gen0",5} {"cpu ms",7}");
        foreach (string name in names)
        {
            foreach (int threads in (int[])[1, 2])
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                var net = BenchmarkNetworks.CreateNamed(name);
                long step = 0;
                var warm = Stopwatch.StartNew();
                while (step < 20 || warm.ElapsedMilliseconds < 1000) net.Step(step++);

                var times = new double[steps];
                TimeSpan cpu = CpuTime();
                int gen0 = GC.CollectionCount(0);
                long thread = GC.GetAllocatedBytesForCurrentThread();
                long process = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < steps; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    net.Step(step++);
                    times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                }
                process = GC.GetTotalAllocatedBytes(precise: true) - process;
                thread = GC.GetAllocatedBytesForCurrentThread() - thread;
                double cpuMs = (CpuTime() - cpu).TotalMilliseconds / steps;
                gen0 = GC.CollectionCount(0) - gen0;
                Array.Sort(times);
                double median = times[steps / 2], mean = times.Average();
                Console.WriteLine($"{name,-10} {threads,3} {net.BatchSize,5} {median,10:F3} {mean,9:F3} {net.BatchSize / median * 1000,10:F0} {thread,9} {process,10} {gen0,5} {cpuMs,7:F3}");
            }
        }
    }
}
