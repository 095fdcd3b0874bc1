using System.Diagnostics;
using NeuralNet.Data;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>augment-cost [rounds]</c>: what the seeded image augmentation adds to a modern-cnn training step at the preset's batch
/// of 128, at 1 and 2 kernel threads: process CPU time and wall time per batch of <see cref="ImageAugmentation.Apply{T}"/>
/// beside a training step, measured in alternating rounds of 20 calls each (so a busy neighbour disturbs both alike).
/// </summary>
internal static class AugmentCost
{
    private static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out int r) ? r : 5;
        Console.WriteLine($"{"thr",3} {"step cpu ms",12} {"augment cpu ms",15} {"ratio",7} {"step wall ms",13} {"augment wall ms",16} {"ratio",7}");
        foreach (int threads in (int[])[1, 2])
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            var net = BenchmarkNetworks.Create("modern-cnn", batches: 2, batchSize: 128);
            var augmentation = new ImageAugmentation();
            var warped = new NdArray<float>(net.Inputs[0].ShapeArray());
            var random = new RandomGenerator(1);
            long step = 0;
            for (int i = 0; i < 5; i++)
            {
                net.Step(step++);
                augmentation.Apply(net.Inputs[0], warped, random);
            }
            double stepCpu = 0, augCpu = 0, stepWall = 0, augWall = 0;
            for (int round = 0; round < rounds; round++)
            {
                var (cpu, wall) = Measure(() => net.Step(step++));
                stepCpu += cpu;
                stepWall += wall;
                (cpu, wall) = Measure(() => augmentation.Apply(net.Inputs[(int)(step & 1)], warped, random));
                augCpu += cpu;
                augWall += wall;
            }
            Console.WriteLine($"{threads,3} {stepCpu / rounds,12:F2} {augCpu / rounds,15:F3} {augCpu / stepCpu,7:P1} {stepWall / rounds,13:F2} {augWall / rounds,16:F3} {augWall / stepWall,7:P1}");
        }
    }

    private static (double CpuMs, double WallMs) Measure(Action call)
    {
        const int Calls = 20;
        TimeSpan cpu = CpuTime();
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < Calls; i++) call();
        double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds / Calls;
        return ((CpuTime() - cpu).TotalMilliseconds / Calls, wall);
    }
}
