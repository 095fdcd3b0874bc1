using NeuralNet.Diagnostics;
using NeuralNet.Modules;

namespace NeuralNet.Tests.Modules;

public class Conv2DTests
{
    [Theory]
    // batch, C, H, W, OC, K, stride, padding, bias
    [InlineData(1, 1, 5, 5, 1, 3, 1, 0, true)]
    [InlineData(2, 3, 7, 6, 4, 3, 2, 1, true)]   // stride 2, padding 1, multiple in/out channels
    [InlineData(3, 2, 9, 7, 3, 3, 2, 1, false)]  // no bias
    [InlineData(2, 2, 6, 5, 2, 1, 1, 0, true)]   // 1×1 kernel
    [InlineData(1, 3, 8, 8, 5, 5, 1, 2, true)]   // "same" padding with K = 5
    [InlineData(2, 1, 5, 7, 2, 2, 3, 0, true)]   // stride > kernel: skipped inputs get zero gradient
    [InlineData(11, 2, 5, 5, 2, 3, 1, 1, true)]  // 6 image chunks of 2 (the last of 1): per-chunk weight-gradient sums
    [InlineData(11, 16, 5, 4, 3, 3, 1, 1, true)] // batched path (20 positions), 6 chunks (the last of 1 image)
    [InlineData(3, 17, 6, 6, 2, 3, 2, 0, false)] // batched, stride 2
    [InlineData(2, 3, 9, 9, 2, 3, 1, 0, true)]   // per-image path (49 positions)
    public void GradientCheck_IsBelow1e6(int batch, int c, int h, int w, int oc, int k, int stride, int padding, bool bias)
    {
        var conv = new Conv2D<double>(c, oc, k, stride, padding, bias, new RandomGenerator(11));
        var x = ModuleTestData.Uniform(2, -1, 1, batch, c, h, w);

        var result = GradientCheck.Check(conv, x);

        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
        result.Tensors.Select(t => t.Tensor).Should().Equal(bias ? ["input", "weight", "bias"] : new[] { "input", "weight" });
    }

    [Theory]
    [InlineData(2, 3, 7, 6, 4, 3, 2, 1, true)]
    [InlineData(1, 1, 28, 28, 6, 5, 1, 0, true)]
    [InlineData(3, 6, 12, 12, 16, 5, 1, 0, false)]
    [InlineData(2, 2, 9, 9, 3, 3, 3, 2, true)]
    [InlineData(19, 24, 12, 12, 48, 3, 1, 1, false)]   // modern-cnn conv2 (per image)
    [InlineData(19, 48, 6, 6, 96, 3, 1, 0, true)]      // modern-cnn conv3: batched when training, 7 chunks of 3 (the last of 1)
    [InlineData(5, 16, 7, 9, 5, 3, 2, 1, true)]        // batched, stride 2 and padding
    public void Forward_EqualsNaiveConvolution(int batch, int c, int h, int w, int oc, int k, int stride, int padding, bool bias)
    {
        foreach (bool training in new[] { false, true })
            ForwardEqualsNaive(batch, c, h, w, oc, k, stride, padding, bias, training);
    }

    private static void ForwardEqualsNaive(int batch, int c, int h, int w, int oc, int k, int stride, int padding, bool bias, bool training)
    {
        var conv = new Conv2D<float>(c, oc, k, stride, padding, bias, new RandomGenerator(3));
        var x = ModuleTestData.Uniform(5, -1, 1, batch, c, h, w).Cast<float>();
        var y = conv.Forward(x, training);

        int outH = (h + 2 * padding - k) / stride + 1, outW = (w + 2 * padding - k) / stride + 1;
        var expected = new float[batch * oc * outH * outW];
        NeuralNet.Kernels.Cpu.Conv2DForwardNaive<float>(expected, x.Data, conv.Weight.Value.Data,
            bias ? conv.Bias!.Value.Data : [], batch, c, h, w, oc, k, k, stride, padding, outH, outW);

        y.ShapeArray().Should().Equal(batch, oc, outH, outW);
        float tolerance = 1e-5f * Math.Max(1, c * k * k / 16);
        for (int i = 0; i < expected.Length; i++)
            y.Data[i].Should().BeApproximately(expected[i], tolerance, $"output {i}, training {training}");
    }

    [Theory]
    [InlineData(19, 48, 6, 6, 96, 3, 1, 0)]     // modern-cnn conv3, 7 chunks
    [InlineData(9, 16, 7, 9, 5, 3, 2, 1)]       // stride 2 and padding
    public void Batched_WeightAndInputGradients_MatchDoubleReference(int batch, int c, int h, int w, int oc, int k, int stride, int padding)
    {
        // The batched float path against the same layer in double (also batched, to double precision): dW sums a whole
        // chunk's positions in one GEMM, dx goes through one Wᵀ·dy per chunk.
        var d = new Conv2D<double>(c, oc, k, stride, padding, bias: true, new RandomGenerator(12));
        var f = new Conv2D<float>(c, oc, k, stride, padding, bias: true, new RandomGenerator(12));
        ModuleTestData.FloatVersusDouble(d, f, ModuleTestData.Uniform(13, -1, 1, batch, c, h, w)).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Batched_InferenceForwardThenBackward_GivesTrainingGradients()
    {
        // A layer with small outputs trains on the batched path; after an inference forward pass (no columns kept) the
        // backward pass rebuilds the chunk columns and must give the training pass's outputs and gradients bit for bit.
        var a = new Conv2D<float>(16, 8, 3, 1, 1, random: new RandomGenerator(4));
        var b = new Conv2D<float>(16, 8, 3, 1, 1, random: new RandomGenerator(4));
        var x = ModuleTestData.Uniform(6, -1, 1, 11, 16, 5, 5).Cast<float>();
        var dy = ModuleTestData.Uniform(7, -1, 1, 11, 8, 5, 5).Cast<float>();
        var training = a.Forward(x, training: true).Clone();
        var inference = b.Forward(x, training: false);
        inference.Data.Should().Equal(training.Data);
        var dxa = a.Backward(dy).Clone();
        b.Backward(dy).Data.Should().Equal(dxa.Data);
        b.Weight.Gradient.Data.Should().Equal(a.Weight.Gradient.Data);
        b.Bias!.Gradient.Data.Should().Equal(a.Bias!.Gradient.Data);
    }

    [Fact]
    public void InferenceForwardThenBackward_GivesTrainingGradients()
    {
        var a = new Conv2D<double>(2, 3, 3, 2, 1, random: new RandomGenerator(4));
        var b = new Conv2D<double>(2, 3, 3, 2, 1, random: new RandomGenerator(4));
        var x = ModuleTestData.Uniform(6, -1, 1, 3, 2, 7, 7);
        var dy = ModuleTestData.Uniform(7, -1, 1, 3, 3, 4, 4);
        a.Forward(x, training: true);
        var dxa = a.Backward(dy).Clone();
        b.Forward(x, training: false); // keeps one image's columns: backward must rebuild them
        var dxb = b.Backward(dy);
        dxb.Data.Should().Equal(dxa.Data);
        b.Weight.Gradient.Data.Should().Equal(a.Weight.Gradient.Data);
        b.Bias!.Gradient.Data.Should().Equal(a.Bias!.Gradient.Data);
    }

    [Fact]
    public void FloatAndDouble_AgreeWithin1e4()
    {
        var d = new Conv2D<double>(3, 4, 3, 2, 1, random: new RandomGenerator(8));
        var f = new Conv2D<float>(3, 4, 3, 2, 1);
        ModuleTestData.FloatVersusDouble(d, f, ModuleTestData.Uniform(9, -1, 1, 2, 3, 9, 8)).Should().BeLessThan(1e-4);
    }

    [Theory]
    [InlineData(3, 28, 28, 6, 5)]   // LeNet-5 conv1
    [InlineData(2, 28, 28, 8, 3)]   // the small CNN's conv
    [InlineData(11, 9, 7, 3, 2)]    // 6 image chunks
    public void SingleChannelFloat_AgreesWithDoubleWithin1e4(int batch, int h, int w, int oc, int k)
    {
        // One input channel, stride 1, no padding: the float layer runs the direct kernels (AVX-512 or AVX2), the double
        // layer im2col + GEMM.
        var d = new Conv2D<double>(1, oc, k, random: new RandomGenerator(8));
        var f = new Conv2D<float>(1, oc, k);
        ModuleTestData.FloatVersusDouble(d, f, ModuleTestData.Uniform(10, -1, 1, batch, 1, h, w)).Should().BeLessThan(1e-4);
    }

    [Theory]
    [InlineData(5, 6, 12, 12, 16, 5, 1, 0)]    // LeNet-5 conv2
    [InlineData(3, 3, 9, 11, 5, 3, 2, 1)]      // stride 2, padding
    [InlineData(11, 20, 6, 7, 9, 1, 1, 0)]     // 1×1 kernel, k = 20, 6 image chunks (plain columns: OW = 7)
    [InlineData(11, 4, 10, 10, 8, 3, 1, 0)]    // packed, OW = 8, 6 image chunks
    [InlineData(3, 5, 6, 6, 7, 3, 1, 0)]       // packed, OW = 4
    public void MultiChannelFloat_InferenceForward_IsBitIdenticalToTraining_AndBackwardStillWorks(
        int batch, int c, int h, int w, int oc, int k, int stride, int padding)
    {
        // Inference writes im2col straight into the GEMM's packed panels where that is faster (LeNet conv2's layout);
        // training keeps the plain columns.
        var a = new Conv2D<float>(c, oc, k, stride, padding, random: new RandomGenerator(4));
        var b = new Conv2D<float>(c, oc, k, stride, padding, random: new RandomGenerator(4));
        var x = ModuleTestData.Uniform(6, -1, 1, batch, c, h, w).Cast<float>();
        var training = a.Forward(x, training: true).Clone();
        var inference = b.Forward(x, training: false);
        inference.Data.Should().Equal(training.Data);
        var dy = ModuleTestData.Uniform(7, -1, 1, training.ShapeArray()).Cast<float>();
        var dxa = a.Backward(dy).Clone();
        b.Backward(dy).Data.Should().Equal(dxa.Data);
        b.Weight.Gradient.Data.Should().Equal(a.Weight.Gradient.Data);
    }

    [Fact]
    public void SingleChannelFloat_InferenceForwardThenBackward_GivesTrainingGradients()
    {
        var a = new Conv2D<float>(1, 6, 5, random: new RandomGenerator(4));
        var b = new Conv2D<float>(1, 6, 5, random: new RandomGenerator(4));
        var x = ModuleTestData.Uniform(6, -1, 1, 9, 1, 28, 28).Cast<float>();
        var dy = ModuleTestData.Uniform(7, -1, 1, 9, 6, 24, 24).Cast<float>();
        a.Forward(x, training: true).Clone().Data.Should().Equal(b.Forward(x, training: false).Data);
        var dxa = a.Backward(dy).Clone();
        var dxb = b.Backward(dy);
        dxb.Data.Should().Equal(dxa.Data);
        b.Weight.Gradient.Data.Should().Equal(a.Weight.Gradient.Data);
        b.Bias!.Gradient.Data.Should().Equal(a.Bias!.Gradient.Data);
    }

    [Fact]
    public void Step_AllocatesNothingAfterWarmUp()
    {
        var conv = new Conv2D<float>(2, 3, 3, 1, 1);
        var x = new NdArray<float>(4, 2, 6, 6);
        var dy = new NdArray<float>(4, 3, 6, 6);
        ModuleTestData.AllocatedBytes(() => { conv.Forward(x, true); conv.Backward(dy); }).Should().Be(0);
        var direct = new Conv2D<float>(1, 6, 5);   // the single-channel direct path
        var image = new NdArray<float>(4, 1, 12, 12);
        var dyDirect = new NdArray<float>(4, 6, 8, 8);
        ModuleTestData.AllocatedBytes(() => { direct.Forward(image, true); direct.Backward(dyDirect); }).Should().Be(0);
        var batched = new Conv2D<float>(16, 8, 3, 1, 1);   // the batched path
        var wide = new NdArray<float>(20, 16, 5, 5);
        var dyBatched = new NdArray<float>(20, 8, 5, 5);
        ModuleTestData.AllocatedBytes(() => { batched.Forward(wide, true); batched.Backward(dyBatched); }).Should().Be(0);
    }

    [Fact]
    public void OutputShape_FollowsFormula()
    {
        new Conv2D<float>(1, 6, 5).GetOutputShape([1, 28, 28]).Should().Equal(6, 24, 24);
        new Conv2D<float>(3, 8, 3, 2, 1).GetOutputShape([3, 7, 6]).Should().Equal(8, 4, 3);
        new Conv2D<float>(1, 2, 5, 1, 2).GetOutputShape([1, 3, 3]).Should().Equal(2, 3, 3);
    }

    [Fact]
    public void WrongChannels_ThrowsNamingLayerAndShapes()
    {
        var conv = new Conv2D<float>(3, 8, 3);
        var act = () => conv.Forward(new NdArray<float>(2, 1, 28, 28));
        act.Should().Throw<ArgumentException>().WithMessage("*Conv2D(3 -> 8, kernel 3*(N, 3, H, W)*(2, 1, 28, 28)*");
        var shape = () => conv.GetOutputShape([1, 28, 28]);
        shape.Should().Throw<ArgumentException>().WithMessage("*Conv2D*(3, H, W)*(1, 28, 28)*");
    }

    [Fact]
    public void ImageSmallerThanKernel_AndWrongRank_Throw()
    {
        var conv = new Conv2D<float>(1, 2, 5);
        var small = () => conv.Forward(new NdArray<float>(1, 1, 4, 9));
        small.Should().Throw<ArgumentException>().WithMessage("*H, W ≥ 5*(1, 1, 4, 9)*");
        var rank = () => conv.Forward(new NdArray<float>(1, 784));
        rank.Should().Throw<ArgumentException>().WithMessage("*(1, 784)*");
    }

    [Fact]
    public void NaNInput_Throws()
    {
        var conv = new Conv2D<float>(1, 2, 3);
        var x = new NdArray<float>(1, 1, 4, 4);
        x[0, 0, 3, 1] = float.NaN;
        var act = () => conv.Forward(x);
        act.Should().Throw<ArgumentException>().WithMessage("*Conv2D*[0, 0, 3, 1]*NaN*");
    }

    [Fact]
    public void Configuration_IsExposed()
    {
        var conv = new Conv2D<float>(3, 8, 5, 2, 1, bias: false);
        (conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding, conv.HasBias)
            .Should().Be((3, 8, 5, 2, 1, false));
        conv.Weight.Value.ShapeString.Should().Be("(8, 3, 5, 5)");
        (conv.FanIn, conv.FanOut).Should().Be((75, 200));
    }
}

/// <summary>The batch is split over threads in fixed image chunks: every result is bit-identical at 1, 2 and 3 threads.</summary>
[Collection(NeuralNet.Tests.Kernels.KernelThreadSettingCollection.Name)]
public class Conv2DThreadingTests
{
    [Theory]
    // batch, C, H, W, OC, K, stride, padding, bias, input gradient
    [InlineData(64, 1, 28, 28, 6, 5, 1, 0, true, false)]   // LeNet-5 conv1
    [InlineData(64, 6, 12, 12, 16, 5, 1, 0, true, true)]   // LeNet-5 conv2
    [InlineData(13, 3, 17, 15, 5, 3, 2, 1, false, true)]   // uneven chunks (7 of 2, the last of 1), stride 2, padding
    [InlineData(37, 24, 12, 12, 48, 3, 1, 1, false, true)] // modern-cnn conv2
    [InlineData(37, 48, 6, 6, 96, 3, 1, 0, false, true)]   // modern-cnn conv3, batched: 8 chunks of 5 images (the last of 2)
    [InlineData(21, 16, 9, 9, 8, 3, 2, 1, true, false)]    // batched (25 positions), no input gradient, bias
    public void ForwardAndBackward_AreBitIdenticalForAnyThreadCount(int batch, int c, int h, int w, int oc, int k,
        int stride, int padding, bool bias, bool inputGradient)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            var x = ModuleTestData.Uniform(21, -1, 1, batch, c, h, w).Cast<float>();
            int outH = (h + 2 * padding - k) / stride + 1, outW = (w + 2 * padding - k) / stride + 1;
            var dy = ModuleTestData.Uniform(22, -1, 1, batch, oc, outH, outW).Cast<float>();
            float[][]? reference = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                var conv = new Conv2D<float>(c, oc, k, stride, padding, bias, new RandomGenerator(5))
                {
                    ComputeInputGradient = inputGradient,
                };
                // Two steps, so the weight gradient also accumulates onto a non-zero dW.
                float[] y = [], dx = [];
                for (int step = 0; step < 2; step++)
                {
                    y = conv.Forward(x, training: true).Data.ToArray();
                    var g = conv.Backward(dy);
                    if (inputGradient) dx = g.Data.ToArray();
                }
                float[][] results = [y, dx, conv.Weight.Gradient.Data.ToArray(), bias ? conv.Bias!.Gradient.Data.ToArray() : []];
                if (reference is null)
                {
                    reference = results;
                    results[2].Should().Contain(v => v != 0f);
                    continue;
                }
                for (int r = 0; r < results.Length; r++)
                    results[r].Should().Equal(reference[r], $"result {r} (y, dx, dW, db) at {threads} threads must equal 1 thread bit for bit");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }
}
