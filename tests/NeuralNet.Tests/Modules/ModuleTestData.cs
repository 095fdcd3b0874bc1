using System.Numerics;
using NeuralNet.Modules;

namespace NeuralNet.Tests.Modules;

/// <summary>Deterministic test inputs for the module, loss and gradient-check tests.</summary>
internal static class ModuleTestData
{
    /// <summary>Uniform values in [lo, hi) from a seeded generator.</summary>
    public static NdArray<double> Uniform(ulong seed, double lo, double hi, params int[] shape)
    {
        var t = new NdArray<double>(shape);
        var r = new RandomGenerator(seed);
        var s = t.AsSpan();
        for (int i = 0; i < s.Length; i++) s[i] = lo + (hi - lo) * r.NextDouble();
        return t;
    }

    /// <summary>Uniform values whose magnitude is at least <paramref name="minMagnitude"/>, random sign: keeps ReLU kinks away.</summary>
    public static NdArray<double> AwayFromZero(ulong seed, double minMagnitude, double maxMagnitude, params int[] shape)
    {
        var t = Uniform(seed, minMagnitude, maxMagnitude, shape);
        var r = new RandomGenerator(seed + 1000);
        var s = t.AsSpan();
        for (int i = 0; i < s.Length; i++) if (r.NextDouble() < 0.5) s[i] = -s[i];
        return t;
    }

    /// <summary>A random permutation of 0..n−1 scaled by <paramref name="spacing"/>: all values distinct, gaps ≥ spacing.</summary>
    public static NdArray<double> DistinctValues(ulong seed, double spacing, params int[] shape)
    {
        var t = new NdArray<double>(shape);
        var idx = Enumerable.Range(0, t.Length).ToArray();
        new RandomGenerator(seed).Shuffle<int>(idx);
        var s = t.AsSpan();
        for (int i = 0; i < s.Length; i++) s[i] = (idx[i] - t.Length / 2.0) * spacing;
        return t;
    }

    /// <summary>Copies every parameter value of <paramref name="source"/> (double) into <paramref name="destination"/> (float), same order.</summary>
    public static void CopyParameters(Module<double> source, Module<float> destination)
    {
        source.Parameters.Count.Should().Be(destination.Parameters.Count);
        for (int i = 0; i < source.Parameters.Count; i++)
        {
            var s = source.Parameters[i].Value.AsSpan();
            var d = destination.Parameters[i].Value.AsSpan();
            for (int j = 0; j < s.Length; j++) d[j] = (float)s[j];
        }
    }

    /// <summary>
    /// The largest |a − b| / max(|b|, rms(b)) over two tensors of equal length: relative per element, except that
    /// elements far below the tensor's typical magnitude (where float cancellation is expected) are compared against that
    /// magnitude.
    /// </summary>
    public static double MaxRelativeDifference<TA, TB>(NdArray<TA> a, NdArray<TB> b)
        where TA : unmanaged, IFloatingPointIeee754<TA>
        where TB : unmanaged, IFloatingPointIeee754<TB>
    {
        a.Length.Should().Be(b.Length);
        var x = a.AsSpan();
        var y = b.AsSpan();
        double sumSq = 0;
        for (int i = 0; i < y.Length; i++) sumSq += double.CreateChecked(y[i]) * double.CreateChecked(y[i]);
        double floor = Math.Max(Math.Sqrt(sumSq / y.Length), 1e-12);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double u = double.CreateChecked(x[i]), v = double.CreateChecked(y[i]);
            worst = Math.Max(worst, Math.Abs(u - v) / Math.Max(Math.Abs(v), floor));
        }
        return worst;
    }

    /// <summary>
    /// Runs forward and backward in float and in double with the same weights and input, and returns the largest
    /// relative difference over output, input gradient and parameter gradients.
    /// </summary>
    public static double FloatVersusDouble(Module<double> d, Module<float> f, NdArray<double> input)
    {
        CopyParameters(d, f);
        d.ComputeInputGradient = true;
        f.ComputeInputGradient = true;
        var inputF = input.Cast<float>();
        var yd = d.Forward(input, training: true).Clone();
        var yf = f.Forward(inputF, training: true).Clone();
        var dy = Uniform(99, -1, 1, yd.ShapeArray());
        d.ZeroGrad();
        f.ZeroGrad();
        var dxd = d.Backward(dy)!.Clone();
        var dxf = f.Backward(dy.Cast<float>())!.Clone();
        double worst = MaxRelativeDifference(yf, yd);
        worst = Math.Max(worst, MaxRelativeDifference(dxf, dxd));
        for (int i = 0; i < d.Parameters.Count; i++)
            worst = Math.Max(worst, MaxRelativeDifference(f.Parameters[i].Gradient, d.Parameters[i].Gradient));
        return worst;
    }

    /// <summary>Bytes allocated on this thread by <paramref name="step"/>, after two warm-up runs.</summary>
    public static long AllocatedBytes(Action step)
    {
        step();
        step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) step();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
