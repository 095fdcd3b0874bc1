using NeuralNet.Diagnostics;
using NeuralNet.Modules;

namespace NeuralNet.Tests.Modules;

public class DenseTests
{
    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(3, 5, 4, true)]
    [InlineData(7, 13, 6, true)]
    [InlineData(4, 9, 11, false)]
    [InlineData(2, 33, 17, true)]
    public void GradientCheck_IsBelow1e6(int batch, int inFeatures, int outFeatures, bool bias)
    {
        var layer = new Dense<double>(inFeatures, outFeatures, bias, new RandomGenerator(7));
        var x = ModuleTestData.Uniform(1, -1, 1, batch, inFeatures);

        var result = GradientCheck.Check(layer, x);

        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
        result.ElementsChecked.Should().Be(x.Length + inFeatures * outFeatures + (bias ? outFeatures : 0));
    }

    [Fact]
    public void Forward_ComputesXTimesWTransposedPlusBias()
    {
        var layer = new Dense<double>(3, 2);
        new double[] { 1, 2, 3, 4, 5, 6 }.CopyTo(layer.Weight.Value.Data, 0); // W = [[1,2,3],[4,5,6]]
        new double[] { 0.5, -1 }.CopyTo(layer.Bias!.Value.Data, 0);
        var x = new NdArray<double>([1, 0, -1, 2, 1, 0], 2, 3);

        var y = layer.Forward(x);

        y.ShapeString.Should().Be("(2, 2)");
        y.Data.Should().Equal(1 - 3 + 0.5, 4 - 6 - 1, 2 + 2 + 0.5, 8 + 5 - 1);
    }

    [Fact]
    public void Backward_MatchesClosedForms_AndAccumulates()
    {
        var layer = new Dense<double>(3, 2);
        new double[] { 1, 2, 3, 4, 5, 6 }.CopyTo(layer.Weight.Value.Data, 0);
        var x = new NdArray<double>([1, 0, -1, 2, 1, 0], 2, 3);
        var dy = new NdArray<double>([1, 2, -1, 3], 2, 2);
        layer.Forward(x, training: true);

        var dx = layer.Backward(dy);

        // dx = dy·W, dW = dyᵀ·x, db = column sums of dy.
        dx.Data.Should().Equal(1 + 8, 2 + 10, 3 + 12, -1 + 12, -2 + 15, -3 + 18);
        layer.Weight.Gradient.Data.Should().Equal(1 - 2, 0 - 1, -1 - 0, 2 + 6, 0 + 3, -2 + 0);
        layer.Bias!.Gradient.Data.Should().Equal(0, 5);

        layer.Backward(dy);
        layer.Bias.Gradient.Data.Should().Equal(0, 10);
        layer.ZeroGrad();
        layer.Weight.Gradient.Data.Should().OnlyContain(v => v == 0);
    }

    [Theory]
    [InlineData(5, 7, 3)]
    [InlineData(40, 300, 20)]
    [InlineData(1, 4, 3)]
    public void ZeroGrad_IsDeferred_BackwardOverwritesStaleValues_AndAccumulatesOtherwise(int batch, int inFeatures, int outFeatures)
    {
        var layer = new Dense<float>(inFeatures, outFeatures, bias: true, new RandomGenerator(3));
        var x = ModuleTestData.Uniform(4, -1, 1, batch, inFeatures).Data.Select(v => (float)v).ToArray();
        var input = new NdArray<float>(x, batch, inFeatures);
        var dyData = ModuleTestData.Uniform(5, -1, 1, batch, outFeatures).Data.Select(v => (float)v).ToArray();
        var dy = new NdArray<float>(dyData, batch, outFeatures);

        // Reference: gradients added into explicitly cleared buffers.
        layer.Weight.Gradient.Clear();
        layer.Bias!.Gradient.Clear();
        layer.Forward(input, training: true);
        layer.Backward(dy);
        float[] dW = layer.Weight.Gradient.Data.ToArray(), db = layer.Bias.Gradient.Data.ToArray();

        // Stale values, then a deferred ZeroGrad: the next backward writes the gradient, nothing stale leaks in.
        Array.Fill(layer.Weight.Gradient.Data, 1e6f);
        Array.Fill(layer.Bias.Gradient.Data, -3f);
        layer.ZeroGrad();
        layer.Forward(input, training: true);
        layer.Backward(dy);
        layer.Weight.Gradient.Data.Should().Equal(dW);
        layer.Bias.Gradient.Data.Should().Equal(db);

        // Without ZeroGrad a second backward adds: the weight GEMM adds its k-sum to the old value, the bias adds row by row.
        layer.Backward(dy);
        layer.Weight.Gradient.Data.Should().Equal(dW.Select(v => v + v));
        float[] db2 = db.ToArray();
        for (int r = 0; r < batch; r++)
        for (int j = 0; j < outFeatures; j++)
            db2[j] += dyData[r * outFeatures + j];
        layer.Bias.Gradient.Data.Should().Equal(db2);

        // ZeroGrad, then reading the gradient (no backward): zeros.
        layer.ZeroGrad();
        layer.Weight.Gradient.Data.Should().OnlyContain(v => v == 0f);
        layer.Bias.Gradient.Data.Should().OnlyContain(v => v == 0f);
    }

    [Fact]
    public void ComputeInputGradientFalse_StillComputesParameterGradients()
    {
        var a = new Dense<double>(6, 4, random: new RandomGenerator(3));
        var b = new Dense<double>(6, 4, random: new RandomGenerator(3)) { ComputeInputGradient = false };
        var x = ModuleTestData.Uniform(2, -1, 1, 5, 6);
        var dy = ModuleTestData.Uniform(3, -1, 1, 5, 4);
        a.Forward(x, true); a.Backward(dy);
        b.Forward(x, true); b.Backward(dy);
        b.Weight.Gradient.Data.Should().Equal(a.Weight.Gradient.Data);
        b.Bias!.Gradient.Data.Should().Equal(a.Bias!.Gradient.Data);
    }

    [Fact]
    public void FloatAndDouble_AgreeWithin1e4()
    {
        var d = new Dense<double>(31, 17, random: new RandomGenerator(5));
        var f = new Dense<float>(31, 17);
        ModuleTestData.FloatVersusDouble(d, f, ModuleTestData.Uniform(4, -1, 1, 9, 31)).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Step_AllocatesNothingAfterWarmUp()
    {
        var layer = new Dense<float>(20, 10);
        var x = new NdArray<float>(8, 20);
        var dy = new NdArray<float>(8, 10);
        long bytes = ModuleTestData.AllocatedBytes(() =>
        {
            layer.Forward(x, true);
            layer.Backward(dy);
        });
        bytes.Should().Be(0);
    }

    [Fact]
    public void WrongWidth_ThrowsNamingLayerAndShapes()
    {
        var layer = new Dense<float>(784, 64);
        var act = () => layer.Forward(new NdArray<float>(32, 100));
        act.Should().Throw<ArgumentException>()
            .WithMessage("*Dense(784 -> 64)*(N, 784)*(32, 100)*");
    }

    [Fact]
    public void WrongRank_Throws()
    {
        var layer = new Dense<float>(784, 64);
        var act = () => layer.Forward(new NdArray<float>(2, 1, 28, 28));
        act.Should().Throw<ArgumentException>().WithMessage("*Dense(784 -> 64)*(2, 1, 28, 28)*");
        var shape = () => layer.GetOutputShape([1, 28, 28]);
        shape.Should().Throw<ArgumentException>().WithMessage("*(784)*(1, 28, 28)*");
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void NonFiniteInput_ThrowsNamingElement(double bad, string shown)
    {
        var layer = new Dense<double>(3, 2);
        var x = new NdArray<double>(2, 3);
        x[1, 2] = bad;
        var act = () => layer.Forward(x);
        act.Should().Throw<ArgumentException>().WithMessage($"*Dense(3 -> 2)*[1, 2]*{shown}*");
    }

    [Fact]
    public void BackwardBeforeForward_AndWrongGradientShape_Throw()
    {
        var layer = new Dense<double>(3, 2);
        var early = () => layer.Backward(new NdArray<double>(1, 2));
        early.Should().Throw<InvalidOperationException>();
        layer.Forward(new NdArray<double>(4, 3));
        var wrong = () => layer.Backward(new NdArray<double>(4, 3));
        wrong.Should().Throw<ArgumentException>().WithMessage("*(4, 2)*(4, 3)*");
    }

    [Fact]
    public void Configuration_IsExposed()
    {
        var layer = new Dense<float>(7, 5, bias: false);
        (layer.InFeatures, layer.OutFeatures, layer.HasBias, layer.Bias).Should().Be((7, 5, false, (Parameter<float>?)null));
        layer.Parameters.Should().ContainSingle().Which.Value.ShapeString.Should().Be("(5, 7)");
        layer.GetOutputShape([7]).Should().Equal(5);
    }

    [Fact]
    public void BadConstructorArguments_Throw()
    {
        var act = () => new Dense<float>(0, 3);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
