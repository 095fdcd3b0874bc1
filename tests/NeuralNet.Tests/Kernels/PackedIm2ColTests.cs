using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Kernels;

/// <summary>
/// im2col straight into the GEMM's packed panels (the convolution's inference forward, stride 1 without padding): the
/// panels equal the plain im2col matrix packed by hand, and the product on them equals <c>Gemm</c> on the plain matrix bit
/// for bit.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class PackedIm2ColTests
{
    public static TheoryData<int, int, int, int, int, int, int> Cases() => new()
    {
        // channels, height, width, kernel, stride, padding, output channels (stride 1, no padding, OW dividing 16)
        { 6, 12, 12, 5, 1, 0, 16 },    // LeNet-5 conv2: 64 columns, whole panels
        { 3, 7, 6, 3, 1, 0, 5 },       // OW = 4, 20 columns: a partial last panel
        { 2, 10, 11, 4, 1, 0, 7 },     // OW = 8, 56 columns
        { 20, 6, 2, 1, 1, 0, 9 },      // 1×1 kernel, k = 20, OW = 2
        { 4, 40, 18, 3, 1, 0, 13 },    // OW = 16, 608 columns: many panels
        { 5, 9, 2, 2, 1, 0, 6 },       // OW = 1
        { 28, 3, 3, 3, 1, 0, 200 },    // k = 252, m = 200: two MC blocks of rows
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Panels_AreThePlainColumnsPacked_AndTheProductIsBitIdenticalToGemm(int channels, int height, int width,
        int kernel, int stride, int padding, int outChannels)
    {
        int outH = (height + 2 * padding - kernel) / stride + 1, outW = (width + 2 * padding - kernel) / stride + 1;
        int k = channels * kernel * kernel, spatial = outH * outW, nr = K.PackedPanelWidth;
        var rng = new RandomGenerator(31);
        float[] x = Enumerable.Range(0, channels * height * width).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] w = Enumerable.Range(0, outChannels * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

        float[] cols = new float[k * spatial];
        K.Im2ColNaive<float>(cols, x, channels, height, width, kernel, kernel, stride, padding, outH, outW);
        float[] expected = new float[K.PackedIm2ColLength(k, spatial)];
        for (int r = 0; r < k; r++)
        for (int s = 0; s < spatial; s++)
            expected[s / nr * nr * k + r * nr + s % nr] = cols[r * spatial + s];
        float[] packed = Enumerable.Repeat(float.NaN, expected.Length + 3).ToArray();
        K.Im2ColPacked(packed, x, channels, height, width, kernel, kernel, stride, padding, outH, outW);
        packed.AsSpan(0, expected.Length).ToArray().Should().Equal(expected);
        packed.AsSpan(expected.Length).ToArray().Should().OnlyContain(v => float.IsNaN(v), "nothing past the panels is written");

        K.CanUsePackedIm2Col(outChannels, k, outH, outW, stride, padding).Should().Be(
            outChannels > 4 && k > 16 && stride == 1 && padding == 0 && nr % outW == 0, "the module uses the fast layout only");
        float[] y = new float[outChannels * spatial], reference = new float[y.Length];
        K.GemmPackedB(outChannels, spatial, k, w, k, packed, y, spatial);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                K.Gemm<float>(false, false, outChannels, spatial, k, w, k, cols, spatial, reference, spatial, false);
                for (int i = 0; i < y.Length; i++)
                    if (BitConverter.SingleToInt32Bits(y[i]) != BitConverter.SingleToInt32Bits(reference[i]))
                        Assert.Fail($"y[{i}] = {y[i]:R} on the packed columns, Gemm on {threads} thread(s) gives {reference[i]:R}");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Fact]
    public void BadArguments_Throw()
    {
        float[] x = new float[2 * 6 * 6];
        FluentActions.Invoking(() => K.Im2ColPacked(new float[10], x, 2, 6, 6, 3, 3, 1, 0, 4, 4))
            .Should().Throw<ArgumentException>().WithMessage("*Im2ColPacked*packed elements*");
        FluentActions.Invoking(() => K.Im2ColPacked(new float[10_000], x, 2, 6, 6, 3, 3, 1, 0, 4, 5))
            .Should().Throw<ArgumentException>().WithMessage("*gives a 4×4 output*");
        FluentActions.Invoking(() => K.Im2ColPacked(new float[10_000], x, 2, 6, 6, 3, 3, 2, 1, 3, 3))
            .Should().Throw<ArgumentException>().WithMessage("*stride 1, no padding*got stride 2, padding 1, output width 3*");
        FluentActions.Invoking(() => K.Im2ColPacked(new float[10_000], new float[2 * 6 * 7], 2, 6, 7, 2, 2, 1, 0, 5, 6))
            .Should().Throw<ArgumentException>().WithMessage("*output width 6*");
        FluentActions.Invoking(() => K.GemmPackedB(4, 10, 300, new float[1200], 300, new float[100_000], new float[40], 10))
            .Should().Throw<ArgumentException>().WithMessage("*k ≤ 256*");
        FluentActions.Invoking(() => K.GemmPackedB(4, 10, 20, new float[80], 20, new float[10], new float[40], 10))
            .Should().Throw<ArgumentException>().WithMessage("*packed B*");
    }
}
