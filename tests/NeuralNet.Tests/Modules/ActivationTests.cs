using NeuralNet.Diagnostics;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Tests.Modules;

public class ActivationTests
{
    public static TheoryData<string, int[]> ElementwiseCases => new()
    {
        { "Sigmoid", new[] { 3, 7 } },
        { "Sigmoid", new[] { 2, 3, 4, 5 } },
        { "Tanh", new[] { 1, 1 } },
        { "Tanh", new[] { 4, 33 } },
        { "ReLU", new[] { 5, 9 } },
        { "ReLU", new[] { 2, 2, 3, 3 } },
    };

    private static Module<T> Create<T>(string name) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => name switch
    {
        "Sigmoid" => new Sigmoid<T>(),
        "Tanh" => new Tanh<T>(),
        "ReLU" => new ReLU<T>(),
        "Softmax" => new Softmax<T>(),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(ElementwiseCases))]
    public void Elementwise_GradientCheck_IsBelow1e6(string name, int[] shape)
    {
        // Inputs at least 0.05 from zero keep ReLU's kink outside the ±2h stencil.
        var x = ModuleTestData.AwayFromZero(6, 0.05, 3, shape);
        var result = GradientCheck.Check(Create<double>(name), x);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 10)]
    [InlineData(7, 5)]
    public void Softmax_GradientCheck_IsBelow1e6(int batch, int classes)
    {
        var x = ModuleTestData.Uniform(8, -3, 3, batch, classes);
        var result = GradientCheck.Check(new Softmax<double>(), x);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("ReLU")]
    [InlineData("Softmax")]
    public void FloatAndDouble_AgreeWithin1e4(string name)
    {
        var x = ModuleTestData.AwayFromZero(10, 0.05, 4, 6, 13);
        ModuleTestData.FloatVersusDouble(Create<double>(name), Create<float>(name), x).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Sigmoid_And_Tanh_KnownValues()
    {
        var x = new NdArray<double>([0, 2, -2], 1, 3);
        new Sigmoid<double>().Forward(x).Data.Should().BeEquivalentTo(
            new[] { 0.5, 1 / (1 + Math.Exp(-2)), 1 / (1 + Math.Exp(2)) }, o => o.Using<double>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-15)).WhenTypeIs<double>());
        new Tanh<double>().Forward(x).Data.Should().BeEquivalentTo(
            new[] { 0, Math.Tanh(2), Math.Tanh(-2) }, o => o.Using<double>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-15)).WhenTypeIs<double>());
    }

    [Fact]
    public void ReLU_DerivativeIsZeroAtZero()
    {
        var relu = new ReLU<double>();
        var x = new NdArray<double>([-1, 0, 2], 1, 3);
        relu.Forward(x, true).Data.Should().Equal(0, 0, 2);
        relu.Backward(new NdArray<double>([5, 5, 5.0], 1, 3)).Data.Should().Equal(0, 0, 5);
    }

    [Fact]
    public void Softmax_OfPlusMinus1000_IsFiniteAndCorrect()
    {
        var softmax = new Softmax<float>();
        var x = new NdArray<float>([1000, -1000, 0, 1000, 1000, -1000, -1000, -1000, -999], 3, 3);
        var y = softmax.Forward(x, training: true);
        y.Data.Should().OnlyContain(v => float.IsFinite(v));
        y.Data[..3].Should().Equal(1f, 0f, 0f);
        y.Data[3..6].Should().Equal(0.5f, 0.5f, 0f);
        // exp(0)/(1 + 2·e^-1) for the −999 entry.
        y.Data[8].Should().BeApproximately((float)(1 / (1 + 2 * Math.Exp(-1))), 1e-6f);
        var dx = softmax.Backward(new NdArray<float>([1, 0, 0, 0, 1, 0, 0, 0, 1], 3, 3));
        dx.Data.Should().OnlyContain(v => float.IsFinite(v));
    }

    [Fact]
    public void Softmax_RowsSumToOne()
    {
        var y = new Softmax<double>().Forward(ModuleTestData.Uniform(3, -20, 20, 5, 11));
        for (int r = 0; r < 5; r++) y.Data.Skip(r * 11).Take(11).Sum().Should().BeApproximately(1.0, 1e-14);
    }

    [Fact]
    public void Softmax_RejectsNonMatrixInput()
    {
        var act = () => new Softmax<float>().Forward(new NdArray<float>(2, 3, 4));
        act.Should().Throw<ArgumentException>().WithMessage("*Softmax*(N, classes)*(2, 3, 4)*");
        var shape = () => new Softmax<float>().GetOutputShape([3, 4]);
        shape.Should().Throw<ArgumentException>().WithMessage("*Softmax*(3, 4)*");
    }

    [Theory]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("ReLU")]
    [InlineData("Softmax")]
    public void NonFiniteOrRankOneInput_Throws(string name)
    {
        var module = Create<double>(name);
        var x = new NdArray<double>(2, 4);
        x[1, 3] = double.NaN;
        var nan = () => module.Forward(x);
        nan.Should().Throw<ArgumentException>().WithMessage($"*{name}*[1, 3]*NaN*");
        var rank = () => module.Forward(new NdArray<double>(4));
        rank.Should().Throw<ArgumentException>().WithMessage($"*{name}*(4)*");
        var backward = () => Create<double>(name).Backward(new NdArray<double>(2, 4));
        backward.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Step_AllocatesNothingAfterWarmUp()
    {
        var modules = new Module<float>[] { new Sigmoid<float>(), new Tanh<float>(), new ReLU<float>(), new Softmax<float>() };
        var x = new NdArray<float>(8, 10);
        var dy = new NdArray<float>(8, 10);
        ModuleTestData.AllocatedBytes(() =>
        {
            foreach (var m in modules) { m.Forward(x, true); m.Backward(dy); }
        }).Should().Be(0);
    }
}

public class ReLUVectorTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(65)]
    public void Backward_MatchesScalarDefinition_OnEveryLength(int length)
    {
        var relu = new ReLU<float>();
        var x = ModuleTestData.Uniform(3, -1, 1, 2, length).Cast<float>();
        x.Data[0] = 0f; // the derivative at exactly 0 is 0
        var dy = ModuleTestData.Uniform(4, -1, 1, 2, length).Cast<float>();
        relu.Forward(x, true);
        var dx = relu.Backward(dy);
        for (int i = 0; i < dx.Length; i++) dx.Data[i].Should().Be(x.Data[i] > 0 ? dy.Data[i] : 0f);
    }
}
