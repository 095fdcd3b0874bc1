using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Kernels;

/// <summary>The fast im2col, col2im and max-pool kernels against their naive references, bit for bit.</summary>
public class ConvKernelTests
{
    public static TheoryData<int, int, int, int, int, int> ConvCases() => new()
    {
        // channels, height, width, kernel, stride, padding
        { 1, 28, 28, 5, 1, 0 },   // LeNet conv1
        { 6, 12, 12, 5, 1, 0 },   // LeNet conv2
        { 1, 28, 28, 3, 1, 0 },   // small CNN
        { 3, 7, 9, 3, 1, 1 },
        { 2, 11, 8, 3, 2, 1 },
        { 2, 9, 13, 4, 2, 0 },
        { 1, 5, 5, 5, 1, 2 },
        { 4, 10, 7, 1, 3, 0 },
        { 2, 6, 6, 3, 3, 2 },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Im2Col_MatchesNaive(int channels, int height, int width, int kernel, int stride, int padding)
    {
        int outH = (height + 2 * padding - kernel) / stride + 1, outW = (width + 2 * padding - kernel) / stride + 1;
        float[] x = Random(channels * height * width, 3);
        float[] cols = Enumerable.Repeat(float.NaN, channels * kernel * kernel * outH * outW).ToArray();
        float[] expected = new float[cols.Length];
        K.Im2Col<float>(cols, x, channels, height, width, kernel, kernel, stride, padding, outH, outW);
        K.Im2ColNaive<float>(expected, x, channels, height, width, kernel, kernel, stride, padding, outH, outW);
        cols.Should().Equal(expected);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Col2Im_MatchesNaiveBitForBit(int channels, int height, int width, int kernel, int stride, int padding)
    {
        int outH = (height + 2 * padding - kernel) / stride + 1, outW = (width + 2 * padding - kernel) / stride + 1;
        float[] cols = Random(channels * kernel * kernel * outH * outW, 4);
        float[] dx = Random(channels * height * width, 5), expected = dx.ToArray();
        K.Col2Im<float>(dx, cols, channels, height, width, kernel, kernel, stride, padding, outH, outW);
        K.Col2ImNaive<float>(expected, cols, channels, height, width, kernel, kernel, stride, padding, outH, outW);
        dx.Should().Equal(expected);
    }

    [Fact]
    public void Im2Col_Double_MatchesNaive()
    {
        double[] x = Random(2 * 9 * 7, 6).Select(v => (double)v).ToArray();
        double[] cols = new double[2 * 9 * 5 * 4], expected = new double[cols.Length];
        K.Im2Col<double>(cols, x, 2, 9, 7, 3, 3, 2, 1, 5, 4);
        K.Im2ColNaive<double>(expected, x, 2, 9, 7, 3, 3, 2, 1, 5, 4);
        cols.Should().Equal(expected);
    }

    [Fact]
    public void Im2Col_BadSizes_Throw()
    {
        float[] x = new float[25], cols = new float[9 * 9];
        FluentActions.Invoking(() => K.Im2Col<float>(cols, x, 1, 5, 5, 3, 3, 1, 0, 4, 3))
            .Should().Throw<ArgumentException>().WithMessage("*3×3 output, got 4×3*");
        FluentActions.Invoking(() => K.Im2Col<float>(cols, x, 2, 5, 5, 3, 3, 1, 0, 3, 3))
            .Should().Throw<ArgumentException>().WithMessage("*needs 162 column and 50 image elements*");
        FluentActions.Invoking(() => K.Col2Im<float>(x, cols, 1, 5, 5, 3, 3, 0, 0, 3, 3))
            .Should().Throw<ArgumentException>().WithMessage("*stride 0*");
    }

    [Theory]
    [InlineData(6, 24, 24, 2, 2)]   // LeNet pool1
    [InlineData(16, 8, 8, 2, 2)]    // LeNet pool2
    [InlineData(8, 26, 26, 2, 2)]   // small CNN
    [InlineData(3, 67, 45, 2, 2)]   // odd sizes: last row/column dropped, vector body plus scalar tail
    [InlineData(2, 7, 49, 2, 2)]    // 24 outputs per row: the 16-wide body, then the 8-wide step
    [InlineData(2, 6, 34, 2, 2)]    // 17 per row: 16-wide body and a scalar tail
    [InlineData(2, 4, 8, 2, 2)]     // 4 per row: the 4-wide step only, with the NaN in its first window
    [InlineData(3, 6, 46, 2, 2)]    // 23 per row: 16, then 4, then a scalar tail of 3
    [InlineData(2, 9, 11, 3, 2)]
    [InlineData(2, 7, 7, 3, 1)]
    [InlineData(1, 5, 8, 2, 3)]
    public void MaxPoolForward_MatchesNaive(int planes, int height, int width, int kernel, int stride)
    {
        int outH = (height - kernel) / stride + 1, outW = (width - kernel) / stride + 1;
        float[] x = Random(planes * height * width, 7);
        // Ties (quantized values) check the first-maximum rule; a NaN checks the reference's propagation behaviour.
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i] * 4) / 4;
        x[width + 1] = float.NaN;
        float[] y = new float[planes * outH * outW], expected = new float[y.Length];
        int[] argmax = new int[y.Length], expectedArgmax = new int[y.Length];
        K.MaxPoolForward<float>(y, argmax, x, planes, height, width, kernel, stride, outH, outW);
        K.MaxPoolForwardNaive<float>(expected, expectedArgmax, x, planes, height, width, kernel, stride, outH, outW);
        y.Should().Equal(expected, (u, v) => u.Equals(v));
        argmax.Should().Equal(expectedArgmax);
    }

    [Fact]
    public void MaxPoolForward_Double_AndBadSizes()
    {
        double[] x = Random(2 * 6 * 6, 8).Select(v => (double)v).ToArray();
        double[] y = new double[2 * 9], expected = new double[18];
        int[] argmax = new int[18], expectedArgmax = new int[18];
        K.MaxPoolForward<double>(y, argmax, x, 2, 6, 6, 2, 2, 3, 3);
        K.MaxPoolForwardNaive<double>(expected, expectedArgmax, x, 2, 6, 6, 2, 2, 3, 3);
        y.Should().Equal(expected);
        argmax.Should().Equal(expectedArgmax);
        FluentActions.Invoking(() => K.MaxPoolForward<double>(y, argmax, x, 2, 6, 6, 2, 2, 3, 4))
            .Should().Throw<ArgumentException>().WithMessage("*gives 3×3, got 3×4*");
    }

    private static float[] Random(int length, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return data;
    }
}
