using NeuralNet.Diagnostics;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Tests.Modules;

public class SequentialTests
{
    [Fact]
    public void ShapeMismatch_AtConstruction_NamesIndexTypeAndBothShapes()
    {
        var act = () => new Sequential<float>([1, 28, 28],
            new Conv2D<float>(1, 6, 5), new ReLU<float>(), new Flatten<float>(), new Dense<float>(100, 10));
        var e = act.Should().Throw<ArgumentException>().Which;
        e.Message.Should().Contain("layer 3 (Dense)").And.Contain("(3456)").And.Contain("(100)").And.Contain("layer 2 (Flatten)");
    }

    [Fact]
    public void ShapeMismatch_OnFirstLayer_NamesTheInput()
    {
        var act = () => new Sequential<float>([784], new Conv2D<float>(1, 6, 5));
        act.Should().Throw<ArgumentException>().WithMessage("*layer 0 (Conv2D)*(784)*the input*(1, H, W)*");
    }

    [Fact]
    public void LeNet_Shapes_AndParameterOrder()
    {
        var model = new Sequential<float>([1, 28, 28],
            new Conv2D<float>(1, 6, 5), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Conv2D<float>(6, 16, 5), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Flatten<float>(), new Dense<float>(256, 120), new ReLU<float>(),
            new Dense<float>(120, 84), new ReLU<float>(), new Dense<float>(84, 10));
        model.OutputShape.Should().Equal(10);
        model.InputShape.Should().Equal(1, 28, 28);
        model.Layers.Should().HaveCount(12);
        model.Parameters.Select(p => p.Value.ShapeString).Should().Equal(
            "(6, 1, 5, 5)", "(6)", "(16, 6, 5, 5)", "(16)", "(120, 256)", "(120)", "(84, 120)", "(84)", "(10, 84)", "(10)");
        model.Forward(new NdArray<float>(3, 1, 28, 28)).ShapeString.Should().Be("(3, 10)");
        model.ToString().Should().Contain("[6] Flatten -> (256)");
    }

    [Fact]
    public void LayerBackwardCompleted_RunsFromTheLastLayerDown_AfterEachLayersGradientsAreFinal()
    {
        var random = new RandomGenerator(3);
        var first = new Dense<float>(3, 4, random: random);
        var model = new Sequential<float>([3], first, new Sigmoid<float>(), new Dense<float>(4, 2, random: random));
        var x = new NdArray<float>(2, 3);
        for (int i = 0; i < x.Length; i++) x.AsSpan()[i] = 0.1f * (i + 1);
        var order = new List<int>();
        float firstWeightGradientWhenLayer0Completed = float.NaN;
        model.LayerBackwardCompleted = i =>
        {
            order.Add(i);
            if (i == 0) firstWeightGradientWhenLayer0Completed = first.Parameters[0].Gradient.AsSpan()[0];
        };
        var y = model.Forward(x);
        var g = new NdArray<float>(y.Shape.ToArray());
        g.AsSpan().Fill(1f);
        model.Backward(g);
        order.Should().Equal(2, 1, 0);
        firstWeightGradientWhenLayer0Completed.Should().Be(first.Parameters[0].Gradient.AsSpan()[0]).And.NotBe(0f);
    }

    [Fact]
    public void Forward_ChecksThePerExampleShape()
    {
        var model = new Sequential<float>([784], new Dense<float>(784, 10));
        var act = () => model.Forward(new NdArray<float>(8, 1, 28, 28));
        act.Should().Throw<ArgumentException>().WithMessage("*Sequential*(N, 784)*(8, 1, 28, 28)*");
    }

    [Fact]
    public void NaNInput_IsReportedByTheFirstLayer()
    {
        var model = new Sequential<float>([3], new Dense<float>(3, 2), new Sigmoid<float>());
        var x = new NdArray<float>(2, 3);
        x[1, 0] = float.NaN;
        var act = () => model.Forward(x);
        act.Should().Throw<ArgumentException>().WithMessage("*Dense(3 -> 2)*[1, 0]*NaN*");
    }

    [Fact]
    public void SameInstanceTwice_Throws()
    {
        var relu = new ReLU<float>();
        var act = () => new Sequential<float>([4], new Dense<float>(4, 4), relu, new Dense<float>(4, 4), relu);
        act.Should().Throw<ArgumentException>().WithMessage("*layer 3 (ReLU)*same instance as layer 1*");
    }

    [Fact]
    public void FirstLayer_SkipsInputGradientByDefault()
    {
        var first = new Dense<double>(3, 4);
        var model = new Sequential<double>([3], first, new Tanh<double>(), new Dense<double>(4, 2));
        model.ComputeInputGradient.Should().BeFalse();
        model.Forward(ModuleTestData.Uniform(1, -1, 1, 2, 3), true);
        model.Backward(ModuleTestData.Uniform(2, -1, 1, 2, 2)).Should().BeNull("the input gradient was not computed, so none is returned");
        first.ComputeInputGradient.Should().BeFalse();
        model.Layers[2].ComputeInputGradient.Should().BeTrue();

        model.ComputeInputGradient = true;
        model.Forward(ModuleTestData.Uniform(1, -1, 1, 2, 3), true);
        var dx = model.Backward(ModuleTestData.Uniform(2, -1, 1, 2, 2));
        first.ComputeInputGradient.Should().BeTrue();
        dx!.Data.Should().Contain(v => v != 0);
    }

    [Fact]
    public void Mlp_WithSoftmaxCrossEntropy_GradientCheck_IsBelow1e6()
    {
        var rng = new RandomGenerator(21);
        var model = new Sequential<double>([7],
            new Dense<double>(7, 5, random: rng), new Sigmoid<double>(),
            new Dense<double>(5, 6, random: rng), new Tanh<double>(),
            new Dense<double>(6, 3, random: rng));
        var x = ModuleTestData.Uniform(3, -1, 1, 4, 7);

        var result = GradientCheck.Check(model, new SoftmaxCrossEntropyLoss<double>(), x, [0, 2, 1, 2]);

        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
        result.Tensors.Select(t => t.LayerIndex).Should().Equal(null, 0, 0, 2, 2, 4, 4);
        result.Tensors[3].Tensor.Should().Be("layers[2] (Dense).weight");
        model.ComputeInputGradient.Should().BeFalse("the check restores the flag");
    }

    [Fact]
    public void SmallCnn_WithLoss_GradientCheck_IsBelow1e6()
    {
        var rng = new RandomGenerator(5);
        // (2, 7, 6) → conv s2 p1 (3, 4, 3) → pool k2 s1 (3, 3, 2) → conv k2 (2, 2, 1) → flatten (4) → dense (4).
        var model = new Sequential<double>([2, 7, 6],
            new Conv2D<double>(2, 3, 3, 2, 1, random: rng), new Tanh<double>(),
            new MaxPool2D<double>(2, 1),
            new Conv2D<double>(3, 2, 2, bias: false, random: rng), new Sigmoid<double>(),
            new Flatten<double>(), new Dense<double>(4, 4, random: rng));
        var x = ModuleTestData.Uniform(4, -1, 1, 2, 2, 7, 6);

        var result = GradientCheck.Check(model, new SoftmaxCrossEntropyLoss<double>(), x, [3, 0]);

        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void Nested_Sequential_Works()
    {
        var inner = new Sequential<double>([4], new Dense<double>(4, 3), new Tanh<double>());
        var outer = new Sequential<double>([5], new Dense<double>(5, 4), new Tanh<double>(), inner, new Dense<double>(3, 2));
        inner.ComputeInputGradient.Should().BeTrue("a layer after the first must pass gradients on");
        outer.OutputShape.Should().Equal(2);
        outer.Parameters.Should().HaveCount(6);
        var result = GradientCheck.Check(outer, ModuleTestData.Uniform(2, -1, 1, 3, 5));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void FloatAndDouble_AgreeWithin1e4()
    {
        Sequential<T> Build<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => new([1, 8, 8],
            new Conv2D<T>(1, 4, 3, 1, 1), new ReLU<T>(), new MaxPool2D<T>(2, 2), new Flatten<T>(),
            new Dense<T>(64, 10), new Softmax<T>());
        var x = ModuleTestData.AwayFromZero(5, 0.01, 1, 3, 1, 8, 8);
        ModuleTestData.FloatVersusDouble(Build<double>(), Build<float>(), x).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void TrainingStep_WithLoss_AllocatesNothingAfterWarmUp()
    {
        var model = new Sequential<float>([1, 8, 8],
            new Conv2D<float>(1, 4, 3), new ReLU<float>(), new MaxPool2D<float>(2, 2), new Flatten<float>(),
            new Dense<float>(36, 10));
        var loss = new SoftmaxCrossEntropyLoss<float>();
        var x = new NdArray<float>(16, 1, 8, 8);
        var labels = new int[16];
        ModuleTestData.AllocatedBytes(() =>
        {
            model.ZeroGrad();
            var y = model.Forward(x, true);
            loss.Forward(y, labels);
            model.Backward(loss.Backward());
        }).Should().Be(0);
    }

    [Fact]
    public void EmptyOrBadInputShape_Throws()
    {
        var none = () => new Sequential<float>([4]);
        none.Should().Throw<ArgumentException>().WithMessage("*at least one layer*");
        var bad = () => new Sequential<float>([0, 3], new Flatten<float>());
        bad.Should().Throw<ArgumentException>().WithMessage("*(0, 3)*");
    }
}
