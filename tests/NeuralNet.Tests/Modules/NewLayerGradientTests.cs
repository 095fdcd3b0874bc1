using NeuralNet.Diagnostics;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Tests.Modules;

/// <summary>Double-precision central-difference gradient checks of the batch-normalization, pooling, dropout and activation layers.</summary>
public class NewLayerGradientTests
{
    /// <summary>Runs its inner module in evaluation mode whatever mode it is called in, so GradientCheck can check that mode.</summary>
    private sealed class EvaluationMode(Module<double> inner) : Module<double>
    {
        public override IReadOnlyList<Parameter<double>> Parameters => inner.Parameters;

        public override NdArray<double> Forward(NdArray<double> input, bool training = false) => inner.Forward(input, training: false);

        public override NdArray<double> Backward(NdArray<double> outputGradient) => inner.Backward(outputGradient)!;

        public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) => inner.GetOutputShape(inputShape);
    }

    private static void RandomizeAffine(BatchNorm<double> bn, ulong seed)
    {
        if (!bn.Affine) return;
        var r = new RandomGenerator(seed);
        for (int i = 0; i < bn.NumFeatures; i++)
        {
            bn.Weight!.Value.Data[i] = 0.5 + r.NextDouble();
            bn.Bias!.Value.Data[i] = r.NextDouble() - 0.5;
        }
    }

    [Theory]
    [InlineData(2, 3, 4, 5, true)]
    [InlineData(3, 2, 3, 3, false)]
    [InlineData(1, 4, 2, 7, true)]   // batch 1: statistics over H·W only
    public void BatchNorm2d_Training_GradientCheck(int n, int c, int h, int w, bool affine)
    {
        var bn = new BatchNorm2d<double>(c, affine: affine);
        RandomizeAffine(bn, 5);
        var x = ModuleTestData.Uniform(11, -2, 3, n, c, h, w);
        var result = GradientCheck.Check(bn, x);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm2d_Evaluation_GradientCheck(bool affine)
    {
        var bn = new BatchNorm2d<double>(3, affine: affine);
        RandomizeAffine(bn, 6);
        // Running statistics from a few training batches.
        for (int i = 0; i < 3; i++) bn.Forward(ModuleTestData.Uniform(20 + (ulong)i, -1, 2, 4, 3, 3, 3), training: true);
        var result = GradientCheck.Check(new EvaluationMode(bn), ModuleTestData.Uniform(12, -2, 2, 2, 3, 4, 3));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(4, 5, true)]
    [InlineData(7, 3, false)]
    [InlineData(3, 40, true)]   // more than one 16-channel block of the row path
    public void BatchNorm1d_GradientCheck_BothModes(int n, int features, bool affine)
    {
        var bn = new BatchNorm1d<double>(features, affine: affine);
        RandomizeAffine(bn, 7);
        var x = ModuleTestData.Uniform(13, -3, 2, n, features);
        var train = GradientCheck.Check(bn, x);
        train.MaxRelativeError.Should().BeLessThan(1e-6, train.ToString());
        var eval = GradientCheck.Check(new EvaluationMode(bn), x);
        eval.MaxRelativeError.Should().BeLessThan(1e-6, eval.ToString());
    }

    [Theory]
    // batch, C, H, W, K, stride, padding
    [InlineData(2, 3, 7, 6, 3, 2, 1)]
    [InlineData(1, 2, 5, 9, 2, 2, 0)]
    [InlineData(2, 1, 6, 6, 3, 1, 1)]
    [InlineData(1, 2, 4, 5, 5, 2, 2)]
    public void AvgPool2D_GradientCheck(int n, int c, int h, int w, int k, int stride, int padding)
    {
        var result = GradientCheck.Check(new AvgPool2D<double>(k, stride, padding), ModuleTestData.Uniform(14, -1, 1, n, c, h, w));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(2, 3, 7, 6, 3, 2, 1)]
    [InlineData(1, 2, 5, 8, 2, 2, 1)]
    [InlineData(2, 2, 6, 5, 3, 1, 1)]
    public void MaxPool2D_WithPadding_GradientCheck(int n, int c, int h, int w, int k, int stride, int padding)
    {
        // Distinct values keep each window's maximum unique under the perturbations; some are negative, where −∞ padding matters.
        var x = ModuleTestData.DistinctValues(15, 0.01, n, c, h, w);
        var result = GradientCheck.Check(new MaxPool2D<double>(k, stride, padding), x);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void MaxPool2D_Padding_NeverWinsOverNegativeInputs()
    {
        var pool = new MaxPool2D<double>(3, 1, padding: 1);
        var x = new NdArray<double>([-5, -4, -3, -2], 1, 1, 2, 2);
        pool.Forward(x).Data.Should().Equal(-2, -2, -2, -2);
    }

    [Theory]
    [InlineData(2, 3, 4, 5)]
    [InlineData(1, 1, 1, 7)]
    public void GlobalAvgPool2D_GradientCheck(int n, int c, int h, int w)
    {
        var result = GradientCheck.Check(new GlobalAvgPool2D<double>(), ModuleTestData.Uniform(16, -1, 1, n, c, h, w));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.3)]
    public void LeakyReLU_GradientCheck(double slope)
    {
        var result = GradientCheck.Check(new LeakyReLU<double>(slope), ModuleTestData.AwayFromZero(17, 0.05, 2, 3, 4, 5));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void GELU_GradientCheck()
    {
        var result = GradientCheck.Check(new GELU<double>(), ModuleTestData.Uniform(18, -4, 4, 3, 67));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(5, 2)]
    public void Conv2D_Same_NonSquare_GradientCheck(int k, int channels)
    {
        var conv = Conv2D<double>.Same(channels, 3, k, random: new RandomGenerator(3));
        var result = GradientCheck.Check(conv, ModuleTestData.Uniform(19, -1, 1, 2, channels, 5, 8));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
        conv.GetOutputShape([channels, 5, 8]).Should().Equal(3, 5, 8);
    }

    [Fact]
    public void Conv2D_Same_RejectsEvenKernels()
    {
        var act = () => Conv2D<float>.Same(1, 1, 4);
        act.Should().Throw<ArgumentException>().WithMessage("*kernel size 4 is even*asymmetric*");
    }

    [Fact]
    public void Dropout_GradientCheck_WithAFixedMask()
    {
        // GradientCheck re-runs Forward for every perturbation; a fixed mask needs the same key each time, so the check
        // runs a fresh layer with the same seed per call through a wrapper.
        var x = ModuleTestData.Uniform(21, -1, 1, 3, 17);
        var result = GradientCheck.Check(new FixedMaskDropout(0.4, 99), x);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    private sealed class FixedMaskDropout(double p, ulong seed) : Module<double>
    {
        private Dropout<double> _current = new(p, new RandomGenerator(seed));

        public override NdArray<double> Forward(NdArray<double> input, bool training = false)
        {
            _current = new Dropout<double>(p, new RandomGenerator(seed));
            return _current.Forward(input, training: true);
        }

        public override NdArray<double> Backward(NdArray<double> outputGradient) => _current.Backward(outputGradient);

        public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) => inputShape.ToArray();
    }

    [Fact]
    public void Dropout_IsInvertedInTraining_AndIdentityInEvaluation()
    {
        var dropout = new Dropout<double>(0.25, new RandomGenerator(4));
        var x = new NdArray<double>(20, 1000);
        x.Fill(1.0);
        var y = dropout.Forward(x, training: true).Data;
        int kept = y.Count(v => v != 0);
        y.Where(v => v != 0).Should().OnlyContain(v => v == 1 / 0.75);
        ((double)kept / y.Length).Should().BeApproximately(0.75, 0.01, "about 1 − p survive");
        var dy = new NdArray<double>(20, 1000);
        dy.Fill(2.0);
        var dx = dropout.Backward(dy).Data;
        for (int i = 0; i < dx.Length; i++) dx[i].Should().Be(y[i] * 2.0);
        dropout.Forward(x, training: false).Data.Should().OnlyContain(v => v == 1.0);
        dropout.Backward(dy).Data.Should().OnlyContain(v => v == 2.0);
    }

    [Fact]
    public void Dropout_MasksFollowTheSeed_AndChangeEveryStep()
    {
        var x = new NdArray<float>(8, 300);
        x.Fill(1f);
        float[] First(ulong seed) => new Dropout<float>(0.5, new RandomGenerator(seed)).Forward(x, true).Data.ToArray();
        First(7).Should().Equal(First(7));
        First(7).Should().NotEqual(First(8));
        var d = new Dropout<float>(0.5, new RandomGenerator(7));
        var a = d.Forward(x, true).Data.ToArray();
        var b = d.Forward(x, true).Data.ToArray();
        a.Should().NotEqual(b, "each training step draws a new key");
    }

    [Fact]
    public void Configuration_IsExposed()
    {
        var bn = new BatchNorm2d<float>(8, epsilon: 1e-3, momentum: 0.05, affine: false);
        (bn.NumFeatures, bn.Epsilon, bn.Momentum, bn.Affine).Should().Be((8, 1e-3, 0.05, false));
        bn.Buffers.Select(b => b.Name).Should().Equal("running_mean", "running_var", "num_batches_tracked");
        var avg = new AvgPool2D<float>(3, 2, 1);
        (avg.KernelSize, avg.Stride, avg.Padding, avg.CountIncludePad).Should().Be((3, 2, 1, true));
        new AvgPool2D<float>(2).Stride.Should().Be(2, "the stride defaults to the kernel size");
        new MaxPool2D<float>(3, 2, 1).Padding.Should().Be(1);
        new Dropout<float>(0.3).P.Should().Be(0.3);
        new GELU<float>().Approximate.Should().Be("tanh");
        new LeakyReLU<float>().NegativeSlope.Should().Be(0.01);
    }

    [Fact]
    public void BadInput_GivesClearMessages()
    {
        var bn = new BatchNorm2d<float>(4);
        bn.Invoking(m => m.Forward(new NdArray<float>(2, 3, 5, 5), true)).Should().Throw<ArgumentException>()
            .WithMessage("BatchNorm2d(4*expected input of shape (N, 4, H, W), got (2, 3, 5, 5)*");
        new BatchNorm1d<float>(3).Invoking(m => m.Forward(new NdArray<float>(1, 3), true)).Should().Throw<ArgumentException>()
            .WithMessage("*more than one value per channel*");
        var act = () => new MaxPool2D<float>(2, 2, padding: 2);
        act.Should().Throw<ArgumentOutOfRangeException>();
        var drop = () => new Dropout<float>(1.0);
        drop.Should().Throw<ArgumentOutOfRangeException>();
        var nan = new NdArray<float>(2, 4, 3, 3);
        nan.Data[5] = float.NaN;
        bn.Invoking(m => m.Forward(nan, true)).Should().Throw<ArgumentException>().WithMessage("*must be finite*");
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void BatchNormTraining_NonFiniteInput_ThrowsNamingTheElement_AndKeepsTheRunningStatistics(float bad, string shown)
    {
        // Training finds a non-finite input through the statistics it computes anyway; the message still names the first
        // such element, and the running statistics do not take the batch in.
        var bn2 = new BatchNorm2d<float>(3);
        var x = new NdArray<float>(4, 3, 5, 6);
        var rng = new RandomGenerator(5);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextDouble();
        bn2.Forward(x, true);
        float[] mean = bn2.RunningMean.Data.ToArray(), variance = bn2.RunningVariance.Data.ToArray();
        x[2, 1, 3, 4] = bad;
        x[3, 2, 0, 0] = float.NaN;
        bn2.Invoking(m => m.Forward(x, true)).Should().Throw<ArgumentException>()
            .WithMessage($"BatchNorm2d(3*input*[2, 1, 3, 4]*{shown}*");
        bn2.RunningMean.Data.Should().Equal(mean);
        bn2.RunningVariance.Data.Should().Equal(variance);
        bn2.NumBatchesTracked.Data[0].Should().Be(1f);

        var bn1 = new BatchNorm1d<float>(4);
        var rows = new NdArray<float>(3, 4);
        rows[1, 2] = bad;
        bn1.Invoking(m => m.Forward(rows, true)).Should().Throw<ArgumentException>().WithMessage($"BatchNorm1d(4*[1, 2]*{shown}*");
        bn1.Invoking(m => m.Forward(rows, false)).Should().Throw<ArgumentException>().WithMessage($"BatchNorm1d(4*[1, 2]*{shown}*");
    }

    [Fact]
    public void FloatAndDouble_AgreeWithin1e4()
    {
        var x = ModuleTestData.Uniform(22, -2, 2, 4, 3, 5, 6);
        ModuleTestData.FloatVersusDouble(new BatchNorm2d<double>(3), new BatchNorm2d<float>(3), x).Should().BeLessThan(1e-4);
        ModuleTestData.FloatVersusDouble(new AvgPool2D<double>(3, 2, 1), new AvgPool2D<float>(3, 2, 1), x).Should().BeLessThan(1e-4);
        ModuleTestData.FloatVersusDouble(new GELU<double>(), new GELU<float>(), x).Should().BeLessThan(1e-4);
        ModuleTestData.FloatVersusDouble(new LeakyReLU<double>(), new LeakyReLU<float>(), x).Should().BeLessThan(1e-4);
        ModuleTestData.FloatVersusDouble(new GlobalAvgPool2D<double>(), new GlobalAvgPool2D<float>(), x).Should().BeLessThan(1e-4);
    }
}
