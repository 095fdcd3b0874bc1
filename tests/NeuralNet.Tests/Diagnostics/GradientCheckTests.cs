using NeuralNet.Diagnostics;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Tests.Modules;

namespace NeuralNet.Tests.Diagnostics;

public class GradientCheckTests
{
    /// <summary>y = x·s (elementwise) with a deliberately wrong weight gradient at one element.</summary>
    private sealed class BuggyScale : Module<double>
    {
        private readonly Parameter<double>[] _parameters;
        private NdArray<double>? _x, _y, _dx;

        public BuggyScale(int width)
        {
            Scale = new Parameter<double>("scale", new NdArray<double>(width));
            Scale.Value.Fill(1.5);
            _parameters = [Scale];
        }

        public Parameter<double> Scale { get; }

        public override IReadOnlyList<Parameter<double>> Parameters => _parameters;

        public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) => inputShape.ToArray();

        public override NdArray<double> Forward(NdArray<double> input, bool training = false)
        {
            _x = input;
            _y = new NdArray<double>(input.ShapeArray());
            int w = Scale.Value.Length;
            for (int i = 0; i < input.Length; i++) _y.Data[i] = input.Data[i] * Scale.Value.Data[i % w];
            return _y;
        }

        public override NdArray<double> Backward(NdArray<double> outputGradient)
        {
            int w = Scale.Value.Length;
            _dx = new NdArray<double>(_x!.ShapeArray());
            for (int i = 0; i < _x.Length; i++)
            {
                _dx.Data[i] = outputGradient.Data[i] * Scale.Value.Data[i % w];
                Scale.Gradient.Data[i % w] += outputGradient.Data[i] * _x.Data[i] * (i % w == 2 ? 1.01 : 1.0); // the bug
            }
            return _dx;
        }
    }

    [Fact]
    public void DetectsAWrongParameterGradient_AndNamesIt()
    {
        var module = new BuggyScale(4);
        var x = ModuleTestData.Uniform(3, 0.5, 1, 3, 4);

        var result = GradientCheck.Check(module, x);

        result.MaxRelativeError.Should().BeApproximately(0.01 / 1.01, 1e-6);
        result.Worst!.Tensor.Should().Be("scale");
        result.Worst.Element.Should().Be(2);
        result.Worst.Position.Should().Be("[2]");
        result.Worst.LayerIndex.Should().BeNull();
        result.Tensors.Single(t => t.Tensor == "input").RelativeError.Should().BeLessThan(1e-8);
        result.Passed(1e-6).Should().BeFalse();
        result.ToString().Should().Contain("scale [2]");
    }

    [Fact]
    public void InsideSequential_ReportsLayerIndex()
    {
        var model = new Sequential<double>([4], new Dense<double>(4, 4), new Tanh<double>(), new BuggyScale(4));
        var result = GradientCheck.Check(model, new MseLoss<double>(), ModuleTestData.Uniform(5, -1, 1, 2, 4), ModuleTestData.Uniform(6, -1, 1, 2, 4));
        result.Worst!.LayerIndex.Should().Be(2);
        result.Worst.Tensor.Should().Be("layers[2] (BuggyScale).scale");
        result.MaxRelativeError.Should().BeGreaterThan(1e-3);
    }

    [Fact]
    public void RestoresValues_AndLeavesAnalyticGradients()
    {
        var layer = new Dense<double>(5, 3, random: new RandomGenerator(2));
        var x = ModuleTestData.Uniform(1, -1, 1, 4, 5);
        var xBefore = x.Clone();
        var wBefore = layer.Weight.Value.Clone();

        GradientCheck.Check(layer, x);

        x.Data.Should().Equal(xBefore.Data);
        layer.Weight.Value.Data.Should().Equal(wBefore.Data);
        layer.ComputeInputGradient.Should().BeTrue();
        layer.Weight.Gradient.Data.Should().Contain(v => v != 0);
    }

    [Fact]
    public void CapsElementsPerTensor()
    {
        var layer = new Dense<double>(30, 20);
        var result = GradientCheck.Check(layer, ModuleTestData.Uniform(1, -1, 1, 2, 30), new GradientCheckOptions { MaxElementsPerTensor = 10 });
        result.ElementsChecked.Should().Be(30);
        result.MaxRelativeError.Should().BeLessThan(1e-6);
    }

    [Fact]
    public void CheckInputFalse_SkipsTheInput()
    {
        var model = new Sequential<double>([3], new Dense<double>(3, 2));
        var result = GradientCheck.Check(model, ModuleTestData.Uniform(1, -1, 1, 2, 3), new GradientCheckOptions { CheckInput = false });
        result.Tensors.Select(t => t.Tensor).Should().Equal("layers[0] (Dense).weight", "layers[0] (Dense).bias");
    }

    [Theory]
    [InlineData(1.0, 1.0, 0.0)]
    [InlineData(1.0, 1.1, 0.1 / 1.1)]
    [InlineData(0.0, 0.0, 0.0)]
    [InlineData(0.0, 1e-10, 1e-2)]          // both tiny: compared against the 1e-8 floor
    [InlineData(-2.0, 2.0, 2.0)]
    [InlineData(double.NaN, 1.0, double.PositiveInfinity)]
    public void RelativeError_Definition(double a, double n, double expected)
    {
        GradientCheck.RelativeError(a, n).Should().BeApproximately(expected, 1e-12);
    }

    [Fact]
    public void InvalidOptions_Throw()
    {
        var layer = new Dense<double>(2, 2);
        var x = new NdArray<double>(1, 2);
        var step = () => GradientCheck.Check(layer, x, new GradientCheckOptions { Step = 0 });
        step.Should().Throw<ArgumentException>().WithMessage("*Step*");
        var cap = () => GradientCheck.Check(layer, x, new GradientCheckOptions { MaxElementsPerTensor = 0 });
        cap.Should().Throw<ArgumentException>().WithMessage("*MaxElementsPerTensor*");
    }
}
