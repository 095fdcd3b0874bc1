using System.Runtime.Intrinsics;
using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Kernels;

/// <summary>
/// The single-channel direct convolution (Cpu.Conv2D.Direct.cs): forward bit for bit against im2col + GEMM, the
/// weight gradient against a double-precision sum, over shapes that hit the 64-wide passes, the 16-wide and overlapped
/// last chunks and the scalar tail (spans below 16), and channel counts that leave partial groups.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class DirectConvKernelTests
{
    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // output channels, height, width, kernel height, kernel width
        { 6, 28, 28, 5, 5 },     // LeNet-5 conv1
        { 8, 28, 28, 3, 3 },     // the small CNN's conv
        { 1, 5, 5, 5, 5 },       // one output
        { 3, 7, 9, 3, 2 },       // span 37: one 16-chunk and an overlapped one
        { 5, 17, 40, 4, 4 },
        { 7, 30, 13, 2, 3 },
        { 9, 8, 8, 1, 1 },       // 1×1 kernel, span 64: exactly one wide pass
        { 2, 3, 20, 3, 1 },      // span 20
        { 4, 6, 4, 2, 2 },       // span 19
        { 3, 4, 4, 2, 2 },       // span 11: scalar only
        { 13, 33, 31, 5, 5 },
        { 1, 1, 17, 1, 5 },      // one row
        { 16, 40, 40, 7, 7 },
        { 2, 16, 16, 16, 16 },   // 256 taps, the most the direct path takes
    };

    /// <summary>The sweep sizes as image sides (1, 7, 31, 33, 65 where a kernel fits) with kernels 1, 3, 5 and 7, square and not.</summary>
    public static TheoryData<int, int, int, int, int> SweepShapes()
    {
        var data = new TheoryData<int, int, int, int, int>();
        int[] sides = [1, 7, 31, 33, 65];
        int[] kernels = [1, 3, 5, 7];
        int i = 0;
        foreach (int h in sides)
        foreach (int w in sides)
        foreach (int k in kernels)
        {
            int kw = (k + i) % 2 == 0 ? k : Math.Max(1, k - 2);   // some non-square kernels
            if (k <= h && kw <= w) data.Add(1 + i % 7, h, w, k, kw);
            i++;
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SweepShapes))]
    public void Forward_IsBitIdenticalToIm2ColAndGemm_OverSweep(int outChannels, int height, int width, int kernelH, int kernelW) =>
        Forward_IsBitIdenticalToIm2ColAndGemm(outChannels, height, width, kernelH, kernelW);

    [Theory]
    [MemberData(nameof(SweepShapes))]
    public void WeightGradient_MatchesDoubleSum_OverSweep(int outChannels, int height, int width, int kernelH, int kernelW) =>
        WeightGradient_MatchesDoubleSum(outChannels, height, width, kernelH, kernelW);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_IsBitIdenticalToIm2ColAndGemm(int outChannels, int height, int width, int kernelH, int kernelW)
    {
        int outH = height - kernelH + 1, outW = width - kernelW + 1, taps = kernelH * kernelW, outputs = outChannels * outH * outW;
        float[] x = Random(height * width, 1), w = Random(outChannels * taps, 2);
        float[] y = Enumerable.Repeat(float.NaN, outputs + 7).ToArray();
        float[] scratch = new float[K.Conv2DSingleChannelScratchLength(outChannels, height, width, kernelH, kernelW)];
        K.Conv2DSingleChannel(y, x, w, scratch, outChannels, height, width, kernelH, kernelW);

        float[] cols = new float[taps * outH * outW], expected = new float[outputs];
        K.Im2Col<float>(cols, x, 1, height, width, kernelH, kernelW, 1, 0, outH, outW);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                K.Gemm<float>(false, false, outChannels, outH * outW, taps, w, taps, cols, outH * outW, expected, outH * outW, false);
                for (int i = 0; i < outputs; i++)
                    if (BitConverter.SingleToInt32Bits(y[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                        Assert.Fail($"{outChannels}×{height}×{width}, kernel {kernelH}×{kernelW}, GEMM on {threads} thread(s): " +
                            $"y[{i}] = {y[i]:R}, im2col + GEMM gives {expected[i]:R}");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
        y.AsSpan(outputs).ToArray().Should().OnlyContain(v => float.IsNaN(v), "nothing past the output is written");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void WeightGradient_MatchesDoubleSum(int outChannels, int height, int width, int kernelH, int kernelW)
    {
        int outH = height - kernelH + 1, outW = width - kernelW + 1, taps = kernelH * kernelW;
        float[] x = Random(height * width, 3), dy = Random(outChannels * outH * outW, 4), start = Random(outChannels * taps, 5);
        float[] scratch = new float[K.Conv2DSingleChannelScratchLength(outChannels, height, width, kernelH, kernelW)];
        foreach (bool accumulate in new[] { false, true })
        {
            float[] dW = start.Append(float.NaN).ToArray();
            K.Conv2DSingleChannelWeightGradient(dW, dy, x, scratch, outChannels, height, width, kernelH, kernelW, accumulate);
            for (int o = 0; o < outChannels; o++)
            for (int kh = 0; kh < kernelH; kh++)
            for (int kw = 0; kw < kernelW; kw++)
            {
                double sum = 0, magnitude = 0;
                for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    double term = (double)dy[(o * outH + oh) * outW + ow] * x[(oh + kh) * width + ow + kw];
                    sum += term;
                    magnitude += Math.Abs(term);
                }
                int idx = (o * kernelH + kh) * kernelW + kw;
                double expected = accumulate ? start[idx] + sum : sum;
                double tolerance = (outH * outW + 2) * 1.2e-7 * (magnitude + (accumulate ? Math.Abs(start[idx]) : 0)) + 1e-30;
                if (!(Math.Abs(dW[idx] - expected) <= tolerance))
                    Assert.Fail($"{outChannels}×{height}×{width}, kernel {kernelH}×{kernelW}, accumulate={accumulate}: " +
                        $"dW[{o},{kh},{kw}] = {dW[idx]}, expected {expected} ± {tolerance}");
            }
            float.IsNaN(dW[^1]).Should().BeTrue("nothing past the gradient is written");
        }
    }

    [Fact]
    public void Forward_IsOneFmaChainPerOutput()
    {
        // The contract the bit-identity with the GEMM rests on: every output is fma(w, x, ·) over (kh, kw) in order from
        // zero, whether it falls in a 64-wide pass, a 16-wide chunk, the overlapped last chunk or the scalar tail.
        const int oc = 5, h = 20, wd = 37, kh = 4, kw = 3;
        int outH = h - kh + 1, outW = wd - kw + 1;
        float[] x = Random(h * wd, 7), w = Random(oc * kh * kw, 8), y = new float[oc * outH * outW];
        K.Conv2DSingleChannel(y, x, w, new float[K.Conv2DSingleChannelScratchLength(oc, h, wd, kh, kw)], oc, h, wd, kh, kw);
        for (int o = 0; o < oc; o++)
        for (int i = 0; i < outH; i++)
        for (int j = 0; j < outW; j++)
        {
            float sum = 0f;
            for (int p = 0; p < kh; p++)
            for (int q = 0; q < kw; q++)
                sum = MathF.FusedMultiplyAdd(w[(o * kh + p) * kw + q], x[(i + p) * wd + j + q], sum);
            y[(o * outH + i) * outW + j].Should().Be(sum, $"y[{o},{i},{j}]");
        }
    }

    [Fact]
    public void BadArguments_ThrowArgumentException()
    {
        float[] x = new float[25], w = new float[9], y = new float[9], scratch = new float[K.Conv2DSingleChannelScratchLength(1, 5, 5, 3, 3)];
        Action kernelTooLarge = () => K.Conv2DSingleChannel(new float[1], x, new float[36], scratch, 1, 5, 5, 6, 6);
        kernelTooLarge.Should().Throw<ArgumentException>().WithMessage("*kernel that fits the image*6×6*5×5*");
        Action shortScratch = () => K.Conv2DSingleChannel(y, x, w, new float[3], 1, 5, 5, 3, 3);
        shortScratch.Should().Throw<ArgumentException>().WithMessage("*scratch*");
        Action shortOutput = () => K.Conv2DSingleChannel(new float[8], x, w, scratch, 1, 5, 5, 3, 3);
        shortOutput.Should().Throw<ArgumentException>().WithMessage("*needs 9 output*got 8*");
        Action shortGradient = () => K.Conv2DSingleChannelWeightGradient(new float[8], y, x, scratch, 1, 5, 5, 3, 3, false);
        shortGradient.Should().Throw<ArgumentException>().WithMessage("*9 weight*");
        Action noChannels = () => K.Conv2DSingleChannel(y, x, w, scratch, 0, 5, 5, 3, 3);
        noChannels.Should().Throw<ArgumentException>();
        Action hugeKernel = () => K.Conv2DSingleChannel(new float[1], new float[100 * 100], new float[100 * 100],
            new float[400], 1, 100, 100, 100, 100);
        hugeKernel.Should().Throw<ArgumentException>().WithMessage("*at most 4096 kernel taps*100×100*");
    }

    private static float[] Random(int n, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }
}
