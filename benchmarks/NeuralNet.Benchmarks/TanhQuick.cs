using System.Diagnostics;
using System.Numerics.Tensors;
using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>tanh-quick [length]</c>: median time per element of the library's tanh kernel and of TensorPrimitives.Tanh, in
/// float and double, on one thread, over arguments spread like hidden pre-activations (uniform in [−4, 4]), and the
/// largest relative error of each against Math.Tanh over a sweep that includes tiny arguments.
/// </summary>
internal static class TanhQuick
{
    public static void Run(string[] args)
    {
        int length = args.Length > 0 && int.TryParse(args[0], out int n) ? n : 4096;
        NeuralNetSettings.MaxDegreeOfParallelism = 1;
        var rng = new Random(1);
        float[] xf = new float[length], yf = new float[length];
        double[] xd = new double[length], yd = new double[length];
        for (int i = 0; i < length; i++) xd[i] = xf[i] = (float)(rng.NextDouble() * 8 - 4);

        Report("float  NeuralNet       ", Time(() => K.TanhForward<float>(yf, xf), length));
        Report("float  TensorPrimitives", Time(() => TensorPrimitives.Tanh<float>(xf, yf), length));
        Report("double NeuralNet       ", Time(() => K.TanhForward<double>(yd, xd), length));
        Report("double TensorPrimitives", Time(() => TensorPrimitives.Tanh<double>(xd, yd), length));

        double[] sweep = [.. Enumerable.Range(-300, 600).Select(k => Math.Pow(10, k / 20.0)), .. Enumerable.Range(0, 4000).Select(i => i / 200.0)];
        float[] sf = sweep.Select(v => (float)v).ToArray(), of = new float[sf.Length];
        double[] od = new double[sweep.Length];
        K.TanhForward<float>(of, sf);
        Console.WriteLine($"max relative error, float  NeuralNet:        {MaxError(sf.Select(v => (double)v).ToArray(), of.Select(v => (double)v).ToArray()):E2}");
        TensorPrimitives.Tanh<float>(sf, of);
        Console.WriteLine($"max relative error, float  TensorPrimitives: {MaxError(sf.Select(v => (double)v).ToArray(), of.Select(v => (double)v).ToArray()):E2}");
        K.TanhForward<double>(od, sweep);
        Console.WriteLine($"max relative error, double NeuralNet:        {MaxError(sweep, od):E2}");
        TensorPrimitives.Tanh<double>(sweep, od);
        Console.WriteLine($"max relative error, double TensorPrimitives: {MaxError(sweep, od):E2}");
    }

    private static double MaxError(double[] x, double[] y)
    {
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double r = Math.Tanh(x[i]);
            if (r != 0) worst = Math.Max(worst, Math.Abs(y[i] - r) / Math.Abs(r));
            else if (y[i] != 0) worst = double.PositiveInfinity;
        }
        return worst;
    }

    private static double Time(Action run, int length)
    {
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 500) run();
        var samples = new double[31];
        for (int s = 0; s < samples.Length; s++)
        {
            int reps = Math.Max(1, 1_000_000 / length);
            long t0 = Stopwatch.GetTimestamp();
            for (int r = 0; r < reps; r++) run();
            samples[s] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / ((double)reps * length);
        }
        Array.Sort(samples);
        return samples[samples.Length / 2];
    }

    private static void Report(string what, double nanoseconds) => Console.WriteLine($"{what}: {nanoseconds:F3} ns/element");
}
