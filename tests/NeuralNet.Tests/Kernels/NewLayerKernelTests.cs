using K = NeuralNet.Kernels.Cpu;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Tests.Kernels;

/// <summary>
/// The batch-normalization, padded/average pooling, LeakyReLU/GELU, dropout-mask and affine-warp kernels against their
/// naive references over many shapes (vector tails, one and several 16-channel blocks, sizes below and above the parallel
/// threshold), and bit-identical for 1, 2 and 3 threads.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class NewLayerKernelTests
{
    private static float[] Random(int length, ulong seed, double lo = -2, double hi = 2)
    {
        var r = new RandomGenerator(seed);
        var a = new float[length];
        for (int i = 0; i < length; i++) a[i] = (float)(lo + (hi - lo) * r.NextDouble());
        return a;
    }

    private static void ForThreads(Action<int> run)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                run(threads);
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    private static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double scale = Math.Max(1, Math.Abs(expected[i]));
            if (!(Math.Abs(actual[i] - expected[i]) <= tolerance * scale))
                Assert.Fail($"{what}: [{i}] = {actual[i]:R}, reference {expected[i]:R}");
        }
    }

    private static void Same(ReadOnlySpan<float> a, ReadOnlySpan<float> b, string what)
    {
        for (int i = 0; i < a.Length; i++)
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                Assert.Fail($"{what}: [{i}] = {a[i]:R} vs {b[i]:R}");
    }

    [Theory]
    // N, C, S (S = 1: BatchNorm1d's row path)
    [InlineData(2, 3, 5)]
    [InlineData(4, 7, 17)]
    [InlineData(16, 24, 576)]    // the preset's first block at batch 16 (above the parallel threshold)
    [InlineData(64, 96, 16)]
    [InlineData(3, 1, 1000)]
    [InlineData(5, 7, 1)]
    [InlineData(128, 128, 1)]    // the preset's dense block
    [InlineData(9, 37, 1)]       // more than two 16-channel blocks, with a tail
    [InlineData(600, 70, 1)]     // row path above the parallel threshold
    public void BatchNorm_MatchesNaive_AndIsTheSameForAnyThreadCount(int n, int c, int s)
    {
        int total = n * c * s;
        float[] x = Random(total, 1, -3, 5), dy = Random(total, 2), gamma = Random(c, 3, 0.5, 1.5), beta = Random(c, 4);
        float[] yRef = new float[total], hRef = new float[total], mRef = new float[c], vRef = new float[c], iRef = new float[c];
        K.BatchNormForwardTrainingNaive<float>(yRef, hRef, mRef, vRef, iRef, x, gamma, beta, n, c, s, 1e-5f);
        float[] dxRef = new float[total], dgRef = new float[c], dbRef = new float[c];
        K.BatchNormBackwardNaive<float>(dxRef, dgRef, dbRef, dy, hRef, iRef, gamma, n, c, s, frozen: false, computeInputGradient: true);

        float[]? first = null, firstDx = null;
        ForThreads(threads =>
        {
            float[] y = new float[total], h = new float[total], m = new float[c], v = new float[c], inv = new float[c];
            K.BatchNormForwardTraining<float>(y, h, m, v, inv, x, gamma, beta, n, c, s, 1e-5f);
            Close(y, yRef, 2e-4, $"forward y, {threads} threads");
            Close(m, mRef, 1e-5, "mean");
            Close(v, vRef, 1e-4, "variance");
            float[] dx = new float[total], dg = new float[c], db = new float[c], scratch = new float[K.BatchNormScratchLength(c)];
            K.BatchNormBackward<float>(dx, dg, db, dy, h, inv, gamma, scratch, n, c, s, frozen: false, computeInputGradient: true);
            Close(dx, dxRef, 2e-3, $"dx, {threads} threads");
            Close(dg, dgRef, 2e-3 * Math.Sqrt(n * s), "dγ");
            Close(db, dbRef, 1e-3 * Math.Sqrt(n * s), "dβ");
            if (first is null) { first = y; firstDx = dx; }
            else { Same(y, first, $"y at {threads} threads vs 1"); Same(dx, firstDx!, $"dx at {threads} threads vs 1"); }
        });
    }

    [Theory]
    // N, C, S: planes only (S ≥ 2); vector tails, one channel, modern-cnn's three blocks at batch 16
    [InlineData(2, 3, 5)]
    [InlineData(4, 7, 17)]
    [InlineData(3, 1, 1000)]
    [InlineData(16, 24, 576)]
    [InlineData(16, 48, 144)]
    [InlineData(16, 96, 16)]
    public void BatchNormWithoutKeptXhat_EqualsTheKeptXhatPath_BitForBit(int n, int c, int s)
    {
        // The forward that keeps no x̂ and the backward that recomputes it from x against the forward that writes x̂ and
        // the backward that reads it: every output the same bits, at 1, 2 and 3 threads, with and without γ/β, with and
        // without the input gradient.
        int total = n * c * s;
        float[] x = Random(total, 31, -3, 5), dy = Random(total, 32), gamma = Random(c, 33, 0.5, 1.5), beta = Random(c, 34);
        foreach (bool affine in new[] { true, false })
        foreach (bool inputGradient in new[] { true, false })
        ForThreads(threads =>
        {
            ReadOnlySpan<float> g = affine ? gamma : default, b = affine ? beta : default;
            float[] yRef = new float[total], hRef = new float[total], mRef = new float[c], vRef = new float[c], iRef = new float[c];
            K.BatchNormForwardTraining<float>(yRef, hRef, mRef, vRef, iRef, x, g, b, n, c, s, 1e-5f);
            float[] dxRef = new float[total], dgRef = Random(c, 35), dbRef = Random(c, 36);
            K.BatchNormBackward<float>(dxRef, affine ? dgRef : default, affine ? dbRef : default, dy, hRef, iRef, g,
                new float[K.BatchNormScratchLength(c)], n, c, s, frozen: false, inputGradient);

            float[] y = new float[total], m = new float[c], v = new float[c], inv = new float[c];
            float[] planes = new float[K.BatchNormPlaneScratchLength(s)];
            K.BatchNormForwardTrainingWithoutXhat<float>(y, m, v, inv, x, g, b, planes, n, c, s, 1e-5f);
            float[] dx = new float[total], dg = Random(c, 35), db = Random(c, 36);
            K.BatchNormBackwardFromInput<float>(dx, affine ? dg : default, affine ? db : default, dy, x, m, inv, g,
                new float[K.BatchNormScratchLength(c)], planes, n, c, s, inputGradient);
            string what = $"{threads} thread(s), affine {affine}, input gradient {inputGradient}";
            Same(y, yRef, $"y, {what}");
            Same(m, mRef, $"mean, {what}");
            Same(v, vRef, $"variance, {what}");
            Same(inv, iRef, $"invStd, {what}");
            Same(dx, dxRef, $"dx, {what}");
            Same(dg, dgRef, $"dγ, {what}");
            Same(db, dbRef, $"dβ, {what}");
        });
        FluentActions.Invoking(() => K.BatchNormForwardTrainingWithoutXhat<float>(new float[total], new float[c], new float[c], new float[c], x,
                gamma, beta, new float[s - 1], n, c, s, 1e-5f))
            .Should().Throw<ArgumentException>().WithMessage("*plane scratch*");
    }

    [Fact]
    public void BatchNormFusedPasses_EqualTheSeparatePasses_BitForBit()
    {
        // The one-pass plane kernels of the training forward and backward against the passes they replace, every length
        // 0..80 (vector bodies and tails), float and double, values spanning several magnitudes.
        for (int length = 0; length <= 80; length++)
        {
            float[] h = Random(length, (ulong)(20 + length), -30, 30), dy = Random(length, (ulong)(200 + length), -1e-3, 1e-3);
            for (int i = 0; i < length; i += 7) h[i] *= 1e-6f;
            const float inv = 0.3183f, g = 1.37f, b = -0.0721f, a = -2.1e-4f, shift = 3.3e-5f, k1 = 0.917f;

            float[] hExpected = h.ToArray(), yExpected = new float[length];
            TensorPrimitives.Multiply(hExpected, inv, hExpected);
            K.ScaleShift<float>(hExpected, g, b, yExpected);
            float[] hActual = h.ToArray(), yActual = new float[length];
            K.NormalizeScaleShift<float>(hActual, inv, g, b, yActual);
            Same(hActual, hExpected, $"x̂, length {length}");
            Same(yActual, yExpected, $"y, length {length}");

            float[] dxExpected = new float[length], dxActual = new float[length];
            K.ScaleShift<float>(h, a, shift, dxExpected);
            TensorPrimitives.MultiplyAdd(dy, k1, dxExpected, dxExpected);
            K.BatchNormInputGradient<float>(h, dy, a, shift, k1, dxActual);
            Same(dxActual, dxExpected, $"dx, length {length}");

            double[] hd = h.Select(v => (double)v).ToArray(), dyd = dy.Select(v => (double)v * 1.0000001).ToArray();
            double[] dxdExpected = new double[length], dxdActual = new double[length];
            K.ScaleShift<double>(hd, a, shift, dxdExpected);
            TensorPrimitives.MultiplyAdd(dyd, k1, dxdExpected, dxdExpected);
            K.BatchNormInputGradient<double>(hd, dyd, a, shift, k1, dxdActual);
            dxdActual.Should().Equal(dxdExpected, (u, v) => BitConverter.DoubleToInt64Bits(u) == BitConverter.DoubleToInt64Bits(v));
            double[] hdExpected = hd.ToArray(), ydExpected = new double[length], ydActual = new double[length];
            TensorPrimitives.Multiply(hdExpected, inv, hdExpected);
            K.ScaleShift<double>(hdExpected, g, b, ydExpected);
            K.NormalizeScaleShift<double>(hd, inv, g, b, ydActual);
            hd.Should().Equal(hdExpected, (u, v) => BitConverter.DoubleToInt64Bits(u) == BitConverter.DoubleToInt64Bits(v));
            ydActual.Should().Equal(ydExpected, (u, v) => BitConverter.DoubleToInt64Bits(u) == BitConverter.DoubleToInt64Bits(v));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchNorm_FrozenBackward_AndNoAffine_MatchNaive(bool rows)
    {
        int n = 6, c = 19, s = rows ? 1 : 13, total = n * c * s;
        float[] x = Random(total, 5), dy = Random(total, 6), inv = Random(c, 7, 0.5, 2);
        float[] dxRef = new float[total], dx = new float[total], dgRef = new float[c], dg = new float[c];
        K.BatchNormBackwardNaive<float>(dxRef, dgRef, default, dy, x, inv, default, n, c, s, frozen: true, computeInputGradient: true);
        K.BatchNormBackward<float>(dx, dg, default, dy, x, inv, default, new float[K.BatchNormScratchLength(c)], n, c, s, frozen: true, computeInputGradient: true);
        Close(dx, dxRef, 1e-6, "frozen dx");
        Close(dg, dgRef, 1e-4, "frozen dγ");
    }

    [Theory]
    // planes, H, W, K, stride, padding
    [InlineData(3, 7, 6, 3, 2, 1)]
    [InlineData(5, 28, 28, 2, 2, 0)]
    [InlineData(2, 9, 13, 5, 1, 2)]
    [InlineData(700, 12, 11, 3, 2, 1)]   // above the parallel threshold
    [InlineData(4, 5, 5, 4, 3, 2)]
    public void Pooling_MatchesNaive_BitForBit_AtAnyThreadCount(int planes, int h, int w, int k, int stride, int padding)
    {
        int outH = (h + 2 * padding - k) / stride + 1, outW = (w + 2 * padding - k) / stride + 1;
        float[] x = Random(planes * h * w, 8), dy = Random(planes * outH * outW, 9);
        float[] maxRef = new float[planes * outH * outW], avgRef = new float[maxRef.Length], dxRef = new float[x.Length];
        int[] argRef = new int[maxRef.Length];
        K.MaxPoolPaddedForwardNaive<float>(maxRef, argRef, x, planes, h, w, k, stride, padding, outH, outW);
        K.AvgPoolForwardNaive<float>(avgRef, x, planes, h, w, k, stride, padding, outH, outW);
        K.AvgPoolBackwardNaive<float>(dxRef, dy, planes, h, w, k, stride, padding, outH, outW);
        ForThreads(threads =>
        {
            float[] max = new float[maxRef.Length], avg = new float[avgRef.Length], dx = new float[x.Length];
            int[] arg = new int[maxRef.Length];
            K.MaxPoolPaddedForward<float>(max, arg, x, planes, h, w, k, stride, padding, outH, outW);
            K.AvgPoolForward<float>(avg, x, planes, h, w, k, stride, padding, outH, outW);
            K.AvgPoolBackward<float>(dx, dy, planes, h, w, k, stride, padding, outH, outW);
            Same(max, maxRef, $"max, {threads} threads");
            arg.Should().Equal(argRef);
            Same(avg, avgRef, $"avg, {threads} threads");
            Same(dx, dxRef, $"avg backward, {threads} threads");
        });
    }

    [Theory]
    [InlineData(6, 25)]
    [InlineData(3000, 16)]
    [InlineData(50, 784)]
    public void GlobalAvgPool_MatchesNaiveSums(int planes, int size)
    {
        float[] x = Random(planes * size, 10), dy = Random(planes, 11);
        ForThreads(threads =>
        {
            float[] y = new float[planes], dx = new float[planes * size];
            K.GlobalAvgPoolForward<float>(y, x, planes, size);
            K.GlobalAvgPoolBackward<float>(dx, dy, planes, size);
            for (int p = 0; p < planes; p++)
            {
                double sum = 0;
                for (int i = 0; i < size; i++) sum += x[p * size + i];
                y[p].Should().BeApproximately((float)(sum / size), 1e-5f);
                dx[p * size + size - 1].Should().Be(dy[p] / size);
            }
        });
    }

    public static TheoryData<int> Lengths() => new() { 1, 7, 16, 63, 1000, K.ElementwiseParallelMinLength + 5, 100_003 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void LeakyReluAndGelu_MatchNaive_AtAnyThreadCount(int length)
    {
        float[] x = Random(length, 12, -5, 5), dy = Random(length, 13);
        float[] lRef = new float[length], ldRef = new float[length], gRef = new float[length], tRef = new float[length], gdRef = new float[length];
        K.LeakyReluForwardNaive<float>(lRef, x, 0.01f);
        K.LeakyReluBackwardNaive<float>(ldRef, dy, x, 0.01f);
        K.GeluForwardNaive<float>(gRef, tRef, x);
        K.GeluBackwardNaive<float>(gdRef, dy, x, tRef);
        float[]? firstG = null;
        ForThreads(threads =>
        {
            float[] l = new float[length], ld = new float[length], g = new float[length], t = new float[length], gd = new float[length];
            K.LeakyReluForward<float>(l, x, 0.01f);
            K.LeakyReluBackward<float>(ld, dy, x, 0.01f);
            K.GeluForward<float>(g, t, x);
            K.GeluBackward<float>(gd, dy, x, t);
            Same(l, lRef, "leaky forward");
            Same(ld, ldRef, "leaky backward");
            Close(g, gRef, 1e-6, "gelu forward");
            Close(gd, gdRef, 1e-5, "gelu backward");
            if (firstG is null) firstG = gd;
            else Same(gd, firstG, $"gelu backward at {threads} threads vs 1");
        });
    }

    [Theory]
    [InlineData(1000, 0.3)]
    [InlineData(100_003, 0.5)]
    [InlineData(K.ElementwiseParallelMinLength * 3, 0.1)]
    public void DropoutMask_MatchesNaive_AtAnyThreadCount(int length, double p)
    {
        ulong key = 0xDEADBEEF12345678UL;
        float[] reference = new float[length];
        K.DropoutMaskNaive<float>(reference, key, K.DropoutThreshold(p), (float)(1 / (1 - p)));
        reference.Count(v => v == 0).Should().BeCloseTo((int)(p * length), (uint)(5 * Math.Sqrt(length) + 1));
        ForThreads(threads =>
        {
            float[] mask = new float[length];
            K.DropoutMask<float>(mask, key, K.DropoutThreshold(p), (float)(1 / (1 - p)));
            Same(mask, reference, $"mask, {threads} threads");
        });
    }

    [Theory]
    [InlineData(3, 1, 28, 28)]
    [InlineData(200, 1, 28, 28)]   // above the parallel threshold
    [InlineData(4, 3, 7, 11)]
    public void AffineWarp_MatchesNaive_AtAnyThreadCount(int examples, int channels, int h, int w)
    {
        float[] x = Random(examples * channels * h * w, 14, 0, 1);
        var r = new RandomGenerator(15);
        double[] k = new double[examples * 6];
        for (int i = 0; i < k.Length; i++) k[i] = (i % 6) switch { 0 or 4 => 0.9 + 0.2 * r.NextDouble(), 2 or 5 => 3 * r.NextDouble() - 1.5, _ => 0.4 * r.NextDouble() - 0.2 };
        float[] reference = new float[x.Length];
        K.AffineWarpNaive<float>(reference, x, k, examples, channels, h, w);
        ForThreads(threads =>
        {
            float[] y = new float[x.Length];
            K.AffineWarp<float>(y, x, k, examples, channels, h, w);
            Same(y, reference, $"warp, {threads} threads");
        });
    }

    [Fact]
    public void AffineWarp_IdentityAndIntegerShift_AreExact()
    {
        float[] x = Random(2 * 5 * 6, 16, 0, 1), y = new float[x.Length];
        K.AffineWarp<float>(y, x, [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0], 2, 1, 5, 6);
        y.Should().Equal(x);
        // Source column j − 1: the image moves one pixel right, column 0 reads outside (0).
        K.AffineWarp<float>(y, x, [1, 0, -1, 0, 1, 0, 1, 0, -1, 0, 1, 0], 2, 1, 5, 6);
        for (int e = 0; e < 2; e++)
        for (int i = 0; i < 5; i++)
        {
            y[(e * 5 + i) * 6].Should().Be(0);
            for (int j = 1; j < 6; j++) y[(e * 5 + i) * 6 + j].Should().Be(x[(e * 5 + i) * 6 + j - 1]);
        }
    }
}
