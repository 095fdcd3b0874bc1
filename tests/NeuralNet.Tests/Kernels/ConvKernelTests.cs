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
        { 24, 12, 12, 3, 1, 1 },  // modern-cnn conv2: "same" width, the block-copy/add path
        { 48, 6, 6, 3, 1, 0 },    // modern-cnn conv3: 4 outputs per row, 128-bit steps
        { 3, 9, 8, 5, 1, 2 },     // same width 8, two padding columns each side
        { 2, 10, 17, 7, 1, 3 },   // same width 17: vector steps and a scalar tail per kernel row
        { 2, 4, 9, 3, 1, 1 },     // more outputs per row than rows
        { 2, 5, 5, 3, 1, 1 },     // same width below 8: col2im takes the general path
        { 1, 2, 2, 5, 1, 2 },     // padding as wide as the image: general path
        { 2, 3, 11, 7, 1, 3 },    // padding as tall as the image: general path
        { 3, 7, 6, 1, 1, 0 },     // 1×1: 6 outputs per row, overlapping 128-bit copies
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
        dx.Select(BitConverter.SingleToInt32Bits).Should().Equal(expected.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Im2ColAndCol2Im_WithColumnStride_PlaceImagesSideBySide(int channels, int height, int width, int kernel, int stride, int padding)
    {
        // Three images' columns in one (C·K·K, 3·OH·OW) matrix, image b at column offset b·OH·OW: each block equals the
        // naive im2col of that image, and col2im from the block equals the naive col2im of a dense copy of it.
        const int images = 3;
        int outH = (height + 2 * padding - kernel) / stride + 1, outW = (width + 2 * padding - kernel) / stride + 1;
        int spatial = outH * outW, rows = channels * kernel * kernel, ld = images * spatial, imageSize = channels * height * width;
        float[] x = Random(images * imageSize, 7);
        float[] wide = Enumerable.Repeat(float.NaN, rows * ld).ToArray();
        for (int b = 0; b < images; b++)
            K.Im2Col<float>(wide.AsSpan(b * spatial), x.AsSpan(b * imageSize, imageSize), channels, height, width, kernel, kernel,
                stride, padding, outH, outW, colsStride: ld);
        for (int b = 0; b < images; b++)
        {
            float[] expected = new float[rows * spatial];
            K.Im2ColNaive<float>(expected, x.AsSpan(b * imageSize, imageSize), channels, height, width, kernel, kernel, stride, padding, outH, outW);
            float[] block = new float[rows * spatial];
            for (int r = 0; r < rows; r++) wide.AsSpan(r * ld + b * spatial, spatial).CopyTo(block.AsSpan(r * spatial));
            block.Should().Equal(expected, $"image {b}");

            float[] dx = Random(imageSize, 8), dxExpected = dx.ToArray();
            float[] gradient = Random(rows * ld, 9);
            K.Col2Im<float>(dx, gradient.AsSpan(b * spatial), channels, height, width, kernel, kernel, stride, padding, outH, outW, colsStride: ld);
            float[] dense = new float[rows * spatial];
            for (int r = 0; r < rows; r++) gradient.AsSpan(r * ld + b * spatial, spatial).CopyTo(dense.AsSpan(r * spatial));
            K.Col2ImNaive<float>(dxExpected, dense, channels, height, width, kernel, kernel, stride, padding, outH, outW);
            dx.Should().Equal(dxExpected, $"image {b}");
        }
    }

    [Theory]
    [InlineData(2, 5, 9, 7, 3, 1)]    // kernel as tall as the padded image: 1 output row, same width
    [InlineData(3, 12, 10, 1, 3, 1)]  // same width, one kernel row: more output rows than input rows
    [InlineData(2, 8, 12, 5, 3, 1)]
    public void Im2ColAndCol2Im_NonSquareKernels_MatchNaive(int channels, int height, int width, int kernelH, int kernelW, int padding)
    {
        int outH = height + 2 * padding - kernelH + 1, outW = width + 2 * padding - kernelW + 1;
        float[] x = Random(channels * height * width, 12);
        float[] cols = Enumerable.Repeat(float.NaN, channels * kernelH * kernelW * outH * outW).ToArray(), expected = new float[cols.Length];
        K.Im2Col<float>(cols, x, channels, height, width, kernelH, kernelW, 1, padding, outH, outW);
        K.Im2ColNaive<float>(expected, x, channels, height, width, kernelH, kernelW, 1, padding, outH, outW);
        cols.Should().Equal(expected);
        float[] gradient = Random(cols.Length, 13), dx = Random(x.Length, 14), dxExpected = dx.ToArray();
        K.Col2Im<float>(dx, gradient, channels, height, width, kernelH, kernelW, 1, padding, outH, outW);
        K.Col2ImNaive<float>(dxExpected, gradient, channels, height, width, kernelH, kernelW, 1, padding, outH, outW);
        dx.Select(BitConverter.SingleToInt32Bits).Should().Equal(dxExpected.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void ColumnStride_TooSmallOrSpanTooShort_Throws()
    {
        float[] x = new float[2 * 25], cols = new float[18 * 9];
        FluentActions.Invoking(() => K.Im2Col<float>(cols, x, 2, 5, 5, 3, 3, 1, 0, 3, 3, colsStride: 8))
            .Should().Throw<ArgumentException>().WithMessage("*column stride 8 is less than OH·OW = 9*");
        // 18 rows with a stride of 10 need 17·10 + 9 = 179 elements.
        FluentActions.Invoking(() => K.Col2Im<float>(x, cols, 2, 5, 5, 3, 3, 1, 0, 3, 3, colsStride: 10))
            .Should().Throw<ArgumentException>().WithMessage("*needs 179 column*");
    }

    [Fact]
    public void GatherChunkPlanes_PutsImagesSideBySide()
    {
        const int images = 3, channels = 4, spatial = 5;
        float[] nchw = Random(images * channels * spatial, 10), rows = new float[nchw.Length];
        K.GatherChunkPlanes<float>(rows, nchw, images, channels, spatial);
        for (int b = 0; b < images; b++)
        for (int o = 0; o < channels; o++)
        for (int s = 0; s < spatial; s++)
            rows[o * images * spatial + b * spatial + s].Should().Be(nchw[(b * channels + o) * spatial + s]);
        FluentActions.Invoking(() => K.GatherChunkPlanes<float>(rows.AsSpan(1), nchw, images, channels, spatial))
            .Should().Throw<ArgumentException>().WithMessage("*needs 60 elements*");
    }

    [Theory]
    // C, OC, K, stride, padding, OH, OW, expected path
    [InlineData(1, 6, 5, 1, 0, 24, 24, "Direct")]      // LeNet-5 conv1
    [InlineData(6, 16, 5, 1, 0, 8, 8, "PerImage")]     // LeNet-5 conv2: 64 positions
    [InlineData(24, 48, 3, 1, 1, 12, 12, "PerImage")]  // modern-cnn conv2: 144 positions
    [InlineData(48, 96, 3, 1, 0, 4, 4, "Batched")]     // modern-cnn conv3: 16 positions
    [InlineData(3, 5, 3, 2, 1, 4, 8, "Batched")]       // 32 positions, the largest batched output
    [InlineData(3, 5, 3, 1, 0, 3, 11, "PerImage")]     // 33 positions
    [InlineData(1, 8, 3, 1, 1, 28, 28, "PerImage")]    // one channel but padded: no direct kernel
    [InlineData(1, 8, 3, 1, 1, 4, 4, "Batched")]       // one channel, padded, small output
    public void PlanConvolution_ChoosesPathByShape(int c, int oc, int k, int stride, int padding, int outH, int outW, string path)
    {
        var plan = K.PlanConvolution<float>(c, oc, k, stride, padding, outH, outW);
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && path == "Direct") path = "PerImage";
        plan.Training.ToString().Should().Be(path);
        K.PlanConvolution<double>(c, oc, k, stride, padding, outH, outW).Training.ToString()
            .Should().Be(path == "Direct" ? "PerImage" : path, "double layers never take the float-only direct kernels");
        plan.KeptColumns(10, c * k * k, outH * outW).Should().Be(path == "Direct" ? 0 : 10L * c * k * k * outH * outW);
        plan.BatchedScratch(4, c * k * k, oc, outH * outW).Should().Be(path == "Batched" ? 4L * outH * outW * (c * k * k + oc) : 0);
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
    public void MaxPool2x2Forward_EveryRowWidth_MatchesNaive()
    {
        // Widths 2..72 run every split of a row into the 16-, 8- and 4-output vector steps, the overlapping last
        // 4-output step (modern-cnn's 12-wide second pool gives 6 outputs) and the scalar tail below 4 outputs; odd
        // widths and heights drop the last column and row. Ties check the first-maximum rule, NaNs the comparisons.
        for (int width = 2; width <= 72; width++)
        foreach (int height in (int[])[2, 5])
        {
            const int planes = 3;
            int outH = height / 2, outW = width / 2;
            float[] x = Random(planes * height * width, (ulong)(100 + width));
            for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i] * 4) / 4;
            x[width + 1] = float.NaN;
            x[^2] = float.NaN;
            x[x.Length / 2] = float.NaN;
            float[] y = new float[planes * outH * outW], expected = new float[y.Length];
            int[] argmax = new int[y.Length], expectedArgmax = new int[y.Length];
            K.MaxPoolForward<float>(y, argmax, x, planes, height, width, 2, 2, outH, outW);
            K.MaxPoolForwardNaive<float>(expected, expectedArgmax, x, planes, height, width, 2, 2, outH, outW);
            y.Should().Equal(expected, (u, v) => u.Equals(v), $"width {width}, height {height}");
            argmax.Should().Equal(expectedArgmax, $"width {width}, height {height}");
        }
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
