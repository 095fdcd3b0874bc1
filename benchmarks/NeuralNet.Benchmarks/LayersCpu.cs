using System.Runtime.InteropServices;
using NeuralNet.Modules;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>layers-cpu [steps] [network…]</c>: like <c>layers-quick</c> at one kernel thread, but each layer is timed in the
/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), so time the thread spends descheduled on a shared machine
/// does not count. With one kernel thread every kernel runs on the calling thread, so this is the layer's whole cost.
/// Prints the median and minimum per layer and the median whole step (sum of the parts).
/// </summary>
internal static class LayersCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private static double NowMs()
    {
        ClockGetTime(3, out TimeSpec t);   // CLOCK_THREAD_CPUTIME_ID
        return t.Seconds * 1e3 + t.Nanoseconds / 1e6;
    }

    public static void Run(string[] args)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("layers-cpu reads the Linux thread CPU clock.");
        int steps = args.Length > 0 && int.TryParse(args[0], out int s) ? s : 60;
        string[] names = args.Length > 1 ? args[1..] : ["modern-cnn@128"];
        NeuralNetSettings.MaxDegreeOfParallelism = 1;
        foreach (string name in names)
        {
            var net = BenchmarkNetworks.CreateNamed(name);
            var warm = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 20 || warm.ElapsedMilliseconds < 1500; i++) net.Step(i);
            IReadOnlyList<Module<float>> layers = net.Model.Layers;
            int count = layers.Count;
            // Rows 0..count-1 forward, count..2count-1 backward, then loss, ZeroGrad, Sgd.Step, whole step.
            var t = new double[2 * count + 4][];
            for (int r = 0; r < t.Length; r++) t[r] = new double[steps];
            var outputs = new NdArray<float>[count + 1];
            for (int step = 0; step < steps; step++)
            {
                double start = NowMs(), t0 = start;
                net.Optimizer.ZeroGrad();
                double t1 = NowMs();
                t[2 * count + 1][step] = t1 - t0;
                outputs[0] = net.Inputs[step % net.BatchCount];
                for (int l = 0; l < count; l++)
                {
                    t0 = NowMs();
                    outputs[l + 1] = layers[l].Forward(outputs[l], training: true);
                    t[l][step] = NowMs() - t0;
                }
                t0 = NowMs();
                net.Loss.Forward(outputs[count], net.Labels[step % net.BatchCount]);
                var gradient = net.Loss.Backward();
                t[2 * count][step] = NowMs() - t0;
                for (int l = count - 1; l >= 0; l--)
                {
                    t0 = NowMs();
                    gradient = layers[l].Backward(gradient)!;
                    t[count + l][step] = NowMs() - t0;
                }
                t0 = NowMs();
                net.Optimizer.Step();
                double end = NowMs();
                t[2 * count + 2][step] = end - t0;
                t[2 * count + 3][step] = end - start;
            }
            foreach (double[] row in t) Array.Sort(row);
            Console.WriteLine($"{name}, 1 thread: thread CPU ms per layer over {steps} steps, median (min)");
            for (int l = 0; l < count; l++)
                Console.WriteLine($"  {l,2} {layers[l],-52} fwd {t[l][steps / 2],7:F3} ({t[l][0],7:F3}) bwd {t[count + l][steps / 2],7:F3} ({t[count + l][0],7:F3})");
            Console.WriteLine($"     {"loss forward + backward",-52}     {t[2 * count][steps / 2],7:F3} ({t[2 * count][0],7:F3})");
            Console.WriteLine($"     {"Sgd.ZeroGrad",-52}     {t[2 * count + 1][steps / 2],7:F3} ({t[2 * count + 1][0],7:F3})");
            Console.WriteLine($"     {"Sgd.Step",-52}     {t[2 * count + 2][steps / 2],7:F3} ({t[2 * count + 2][0],7:F3})");
            Console.WriteLine($"     {"whole step",-52}     {t[2 * count + 3][steps / 2],7:F3} ({t[2 * count + 3][0],7:F3})");
        }
    }
}
