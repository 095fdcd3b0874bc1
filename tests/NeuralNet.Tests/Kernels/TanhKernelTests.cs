using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Kernels;

/// <summary>
/// The tanh forward kernel element by element against Math.Tanh in double: a dense sweep of tiny, medium, large and
/// special arguments, every tail length, and the parallel path.
/// </summary>
public class TanhKernelTests
{
    private const double FloatTolerance = 2e-7, DoubleTolerance = 1e-15;

    /// <summary>±m·10^k for 40 mantissas m in [1, 10) and k from −45 to 3, the saturation region, and the specials.</summary>
    private static double[] Sweep()
    {
        var values = new List<double> { 0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 1e-8, 1.05e-6, 1.47e-8,
            double.Epsilon, float.Epsilon, double.MaxValue, float.MaxValue, 0.625, 0.625 - 1e-16, 0.625 + 1e-16, 9.01, 19.06, 354, 710, 711 };
        for (int k = -45; k <= 3; k++)
            for (int m = 0; m < 40; m++)
                values.Add((1 + m * 9.0 / 40) * Math.Pow(10, k));
        for (double v = 0; v <= 25; v += 1.0 / 512) values.Add(v);
        var rng = new RandomGenerator(5);
        for (int i = 0; i < 20_000; i++) values.Add(Math.Pow(2, rng.NextDouble() * 80 - 70));
        return [.. values, .. values.Select(v => -v)];
    }

    private static void CheckFloat(float[] x, float[] y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double reference = Math.Tanh(x[i]);
            if (double.IsNaN(reference)) { float.IsNaN(y[i]).Should().BeTrue($"tanh(NaN) at {i}"); continue; }
            if (reference == 0)
            {
                // tanh(±0) is exactly ±0.
                BitConverter.SingleToInt32Bits(y[i]).Should().Be(BitConverter.SingleToInt32Bits(x[i]), $"tanh({x[i]:R}) is {x[i]:R} exactly");
                continue;
            }
            double relative = Math.Abs(y[i] - reference) / Math.Abs(reference);
            relative.Should().BeLessThanOrEqualTo(FloatTolerance, $"tanh({x[i]:R}) = {reference:R}, kernel {y[i]:R}");
        }
    }

    private static void CheckDouble(double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double reference = Math.Tanh(x[i]);
            if (double.IsNaN(reference)) { double.IsNaN(y[i]).Should().BeTrue($"tanh(NaN) at {i}"); continue; }
            if (reference == 0)
            {
                BitConverter.DoubleToInt64Bits(y[i]).Should().Be(BitConverter.DoubleToInt64Bits(x[i]), $"tanh({x[i]:R}) is {x[i]:R} exactly");
                continue;
            }
            double relative = Math.Abs(y[i] - reference) / Math.Abs(reference);
            relative.Should().BeLessThanOrEqualTo(DoubleTolerance, $"tanh({x[i]:R}) = {reference:R}, kernel {y[i]:R}");
        }
    }

    [Fact]
    public void Float_IsAccurateEverywhere()
    {
        float[] x = Sweep().Select(v => (float)v).ToArray(), y = new float[x.Length];
        K.TanhForward<float>(y, x);
        CheckFloat(x, y);
        // The values the probe found broken in TensorPrimitives.Tanh.
        y[Array.IndexOf(x, 1e-8f)].Should().Be(1e-8f);
        y[Array.IndexOf(x, 0f)].Should().Be(0f);
    }

    [Fact]
    public void Double_IsAccurateEverywhere()
    {
        double[] x = Sweep(), y = new double[x.Length];
        K.TanhForward<double>(y, x);
        CheckDouble(x, y);
    }

    [Fact]
    public void EveryTailLengthAndOffset_GivesTheSameBits()
    {
        // An element's result must not depend on whether it lands in a full vector or the tail.
        double[] all = Sweep();
        float[] xf = all.Select(v => (float)v).ToArray(), whole = new float[xf.Length];
        double[] wholeD = new double[all.Length];
        K.TanhForward<float>(whole, xf);
        K.TanhForward<double>(wholeD, all);
        for (int n = 0; n <= 70; n++)
            for (int offset = 0; offset < 3; offset++)
            {
                var part = new float[n];
                K.TanhForward<float>(part, xf.AsSpan(offset, n));
                part.Should().Equal(whole.AsSpan(offset, n).ToArray(), $"float length {n} at offset {offset}");
                var partD = new double[n];
                K.TanhForward<double>(partD, all.AsSpan(offset, n));
                partD.Should().Equal(wholeD.AsSpan(offset, n).ToArray(), $"double length {n} at offset {offset}");
            }
    }

    [Fact]
    public void NaiveReference_AgreesWithMathTanh()
    {
        double[] x = Sweep(), y = new double[x.Length];
        K.TanhNaive<double>(y, x);
        for (int i = 0; i < x.Length; i++) y[i].Should().Be(Math.Tanh(x[i]));
    }
}
