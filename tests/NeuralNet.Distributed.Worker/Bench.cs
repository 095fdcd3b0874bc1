using System.Diagnostics;
using System.Globalization;

namespace NeuralNet.Distributed.Worker;

/// <summary>Measures the per-step gradient all-reduce cost for the parameter counts of the reference networks.</summary>
internal static class Bench
{
    /// <summary>Name and scalar parameter count of each reference network (weights + biases).</summary>
    internal static readonly (string Name, int Parameters)[] Networks =
    [
        ("mlp 784-64-10", 784 * 64 + 64 + 64 * 10 + 10),                                   // 50,890
        ("deep-mlp 784-400-100-25-10", 784 * 400 + 400 + 400 * 100 + 100 + 100 * 25 + 25 + 25 * 10 + 10), // 356,885
        ("lenet-5", 6 * 25 + 6 + 16 * 6 * 25 + 16 + 256 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10),       // 44,426
        ("small-cnn", 8 * 9 + 1352 * 20 + 20 + 20 * 10 + 10),                              // 27,342
    ];

    public static int Run(Communicator world, Options options)
    {
        int iterations = options.Int("iterations", 200), warmup = options.Int("warmup", 20);
        if (world.IsRoot)
        {
            Console.WriteLine($"# all-reduce per step, {world.Size} rank(s), {iterations} iterations after {warmup} warm-up, float32");
            Console.WriteLine("| network | parameters | ranks | ordered (gather + rank-order sum) µs | MPI_Allreduce µs |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
        }
        foreach (var (name, count) in Networks)
        {
            var buffer = new float[count];
            double ordered = Time(world, warmup, iterations, () => { buffer.AsSpan().Fill(1f / 3); world.AllReduceSumOrdered<float>(buffer); });
            double native = Time(world, warmup, iterations, () => { buffer.AsSpan().Fill(1f / 3); world.AllReduce<float>(buffer, ReduceOperation.Sum); });
            if (world.IsRoot)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {count:N0} | {world.Size} | {ordered:F0} | {native:F0} |"));
        }
        return 0;
    }

    /// <summary>Median over iterations of the slowest rank's time per call, in microseconds.</summary>
    private static double Time(Communicator world, int warmup, int iterations, Action step)
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
        return samples[iterations / 2];
    }
}
