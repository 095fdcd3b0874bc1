using K = NeuralNet.Kernels.Cpu;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Tests.Kernels;

/// <summary>
/// Activations and max pooling on tensors large enough to be split over the kernel threads: the same bits for 1, 2 and 3
/// threads, and the same as the single-threaded TensorPrimitives calls and the naive pooling.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class ParallelElementwiseTests
{
    // Below, at and above the parallel thresholds (sigmoid and tanh forward split from a lower one), with remainders of
    // every kind (64-element blocks, vector tails); 16,384 is the 784-64-10 MLP's hidden layer at batch 256.
    public static TheoryData<int> Lengths() => new()
    {
        K.TranscendentalParallelMinLength - 1, K.TranscendentalParallelMinLength, 16_384, 20_007,
        K.ElementwiseParallelMinLength - 1, K.ElementwiseParallelMinLength, 65_541, 221_184, 100_003,
    };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Activations_AreBitIdenticalForAnyThreadCount_AndMatchTheSerialReference(int length)
    {
        var rng = new RandomGenerator((ulong)length);
        float[] x = new float[length], y = new float[length], dy = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 8 - 4);
            y[i] = (float)rng.NextDouble();
            dy[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        var cases = new (string Name, Action<float[]> Run, float[] Expected)[]
        {
            ("relu", d => K.ReluForward<float>(d, x), Expect(d => TensorPrimitives.Max(x, 0f, d), length)),
            ("sigmoid", d => K.SigmoidForward<float>(d, x), Expect(d => TensorPrimitives.Sigmoid(x, d), length)),
            // Tanh has its own kernel (TanhKernelTests checks its accuracy): the reference is that kernel over small
            // serial pieces, so a part boundary anywhere must not change a bit.
            ("tanh", d => K.TanhForward<float>(d, x), Expect(d => { for (int i = 0; i < length; i += 999) K.TanhForward<float>(d.AsSpan(i, Math.Min(999, length - i)), x.AsSpan(i, Math.Min(999, length - i))); }, length)),
            ("relu backward", d => K.ReluBackward<float>(d, dy, x), Expect(d => { for (int i = 0; i < length; i++) d[i] = x[i] > 0 ? dy[i] : 0f; }, length)),
            ("sigmoid backward", d => K.SigmoidBackward<float>(d, dy, y), Expect(d => { for (int i = 0; i < length; i++) d[i] = (1f - y[i]) * y[i] * dy[i]; }, length)),
            ("tanh backward", d => K.TanhBackward<float>(d, dy, y), Expect(d => { for (int i = 0; i < length; i++) d[i] = (1f - y[i] * y[i]) * dy[i]; }, length)),
        };
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (var (name, run, expected) in cases)
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                float[] d = new float[length];
                run(d);
                for (int i = 0; i < length; i++)
                    if (BitConverter.SingleToInt32Bits(d[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                        Assert.Fail($"{name}, length {length}, {threads} thread(s): [{i}] = {d[i]:R}, expected {expected[i]:R}");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData(384, 24, 24, 2, 2)]    // LeNet-5 pool1, batch 64
    [InlineData(1024, 8, 8, 2, 2)]     // LeNet-5 pool2
    [InlineData(77, 21, 23, 3, 2)]     // odd sizes, overlapping windows (a dx element gets several dy)
    [InlineData(5, 200, 37, 2, 2)]     // few planes: fewer parts than threads would like
    public void MaxPool_IsBitIdenticalForAnyThreadCount_AndMatchesNaive(int planes, int height, int width, int kernel, int stride)
    {
        int outH = (height - kernel) / stride + 1, outW = (width - kernel) / stride + 1;
        var rng = new RandomGenerator(3);
        float[] x = new float[planes * height * width], dy = new float[planes * outH * outW];
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round((float)(rng.NextDouble() * 8 - 4) * 4) / 4; // ties
        for (int i = 0; i < dy.Length; i++) dy[i] = (float)(rng.NextDouble() * 2 - 1);
        float[] yNaive = new float[dy.Length], dxNaive = new float[x.Length];
        int[] argmaxNaive = new int[dy.Length];
        K.MaxPoolForwardNaive<float>(yNaive, argmaxNaive, x, planes, height, width, kernel, stride, outH, outW);
        for (int i = 0; i < dy.Length; i++) dxNaive[argmaxNaive[i]] += dy[i];

        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                float[] y = new float[dy.Length], dx = Enumerable.Repeat(float.NaN, x.Length).ToArray();
                int[] argmax = new int[dy.Length];
                K.MaxPoolForward<float>(y, argmax, x, planes, height, width, kernel, stride, outH, outW);
                K.MaxPoolBackward<float>(dx, dy, argmax, planes);
                y.Should().Equal(yNaive, $"forward, {threads} thread(s)");
                argmax.Should().Equal(argmaxNaive, $"argmax, {threads} thread(s)");
                dx.Should().Equal(dxNaive, $"backward, {threads} thread(s)");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData(3072, 24, 24)]   // modern-cnn pool1 at batch 128: 12 outputs per row
    [InlineData(6144, 12, 12)]   // modern-cnn pool2: 6 outputs per row, a vector step and a scalar tail
    [InlineData(7, 9, 37)]       // odd H and W: the last row and column get no gradient
    [InlineData(5, 2, 2)]        // one window per plane
    [InlineData(4, 31, 70)]      // 35 outputs per row
    public void MaxPool2x2Backward_MatchesScatter_BitForBit_AtAnyThreadCount(int planes, int height, int width)
    {
        int outH = height / 2, outW = width / 2;
        var rng = new RandomGenerator(11);
        float[] x = new float[planes * height * width], dy = new float[planes * outH * outW];
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round((float)(rng.NextDouble() * 8 - 4) * 2) / 2; // ties
        for (int i = 0; i < dy.Length; i++) dy[i] = (float)(rng.NextDouble() * 2 - 1);
        // −0 must come out as +0 (0 + −0 in the scatter), NaN and infinities must pass through.
        dy[0] = -0f;
        dy[dy.Length / 2] = -0f;
        dy[^1] = float.NaN;
        if (dy.Length > 2) dy[1] = float.NegativeInfinity;
        float[] y = new float[dy.Length], expected = new float[x.Length];
        int[] argmax = new int[dy.Length];
        K.MaxPoolForwardNaive<float>(y, argmax, x, planes, height, width, 2, 2, outH, outW);
        K.MaxPoolBackward<float>(expected, dy, argmax);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                float[] dx = Enumerable.Repeat(float.NaN, x.Length).ToArray();
                K.MaxPool2x2Backward<float>(dx, dy, argmax, planes, height, width);
                dx.Select(BitConverter.SingleToInt32Bits).Should().Equal(expected.Select(BitConverter.SingleToInt32Bits),
                    $"{threads} thread(s)");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
        double[] dyDouble = dy.Select(v => (double)v).ToArray(), dxDouble = new double[x.Length], expectedDouble = new double[x.Length];
        K.MaxPoolBackward<double>(expectedDouble, dyDouble, argmax);
        K.MaxPool2x2Backward<double>(dxDouble, dyDouble, argmax, planes, height, width);
        dxDouble.Should().Equal(expectedDouble, (u, v) => u.Equals(v));
        FluentActions.Invoking(() => K.MaxPool2x2Backward<float>(new float[x.Length + 1], dy, argmax, planes, height, width))
            .Should().Throw<ArgumentException>().WithMessage("*MaxPool2x2Backward*");
    }

    [Fact]
    public void BadArguments_Throw()
    {
        FluentActions.Invoking(() => K.SigmoidForward<float>(new float[3], new float[4]))
            .Should().Throw<ArgumentException>().WithMessage("*shorter*");
        FluentActions.Invoking(() => K.ReluBackward<float>(new float[4], new float[4], new float[5]))
            .Should().Throw<ArgumentException>().WithMessage("*same length*");
        FluentActions.Invoking(() => K.MaxPoolBackward<float>(new float[10], new float[4], new int[4], 3))
            .Should().Throw<ArgumentException>().WithMessage("*whole planes*");
    }

    private static float[] Expect(Action<float[]> fill, int length)
    {
        float[] d = new float[length];
        fill(d);
        return d;
    }
}
