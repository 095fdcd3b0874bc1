using FluentAssertions;
using NeuralNet.Initialization;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Tests.Models;

public class ReferenceNetworksTests
{
    public static TheoryData<string, int, int> Shapes => new()
    {
        { "spark-mlp", 50_890, 4 },
        { "mlp", 50_890, 3 },
        { "lenet", 44_426, 12 },
        { "small-cnn", 27_342, 7 },
        { "deep-mlp", 356_885, 7 },
        { "modern-cnn", 250_930, 17 },
    };

    private static Sequential<float> Build(string name, RandomGenerator random) => name switch
    {
        "spark-mlp" => ReferenceNetworks.SparkMlp<float>(random),
        "mlp" => ReferenceNetworks.Mlp<float>(random),
        "lenet" => ReferenceNetworks.LeNet5<float>(random),
        "small-cnn" => ReferenceNetworks.SmallCnn<float>(random),
        "deep-mlp" => ReferenceNetworks.DeepMlp<float>(random),
        _ => ReferenceNetworks.ModernCnn<float>(random),
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Builders_GiveTheReferenceShapes_AndTheSameWeightsForTheSameSeed(string name, int parameterCount, int layers)
    {
        var a = Build(name, new RandomGenerator(3));
        var b = Build(name, new RandomGenerator(3));
        var c = Build(name, new RandomGenerator(4));
        a.Parameters.Sum(p => p.Value.Length).Should().Be(parameterCount);
        a.Layers.Should().HaveCount(layers);
        a.OutputShape.Should().Equal(10);
        a.Parameters.Select(p => p.Value.AsSpan().ToArray()).Should().BeEquivalentTo(b.Parameters.Select(p => p.Value.AsSpan().ToArray()), o => o.WithStrictOrdering());
        a.Parameters[0].Value.AsSpan().ToArray().Should().NotEqual(c.Parameters[0].Value.AsSpan().ToArray());
    }

    [Fact]
    public void DefaultInitializer_DrawsExactlyWhatLayersBuiltFromTheGeneratorDraw()
    {
        // The layers' own initialization, drawn from the caller's generator in construction order.
        var r = new RandomGenerator(42);
        var byHand = new Sequential<float>([1, 28, 28],
            new Conv2D<float>(1, 6, 5, random: r), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Conv2D<float>(6, 16, 5, random: r), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Flatten<float>(),
            new Dense<float>(256, 120, random: r), new ReLU<float>(),
            new Dense<float>(120, 84, random: r), new ReLU<float>(),
            new Dense<float>(84, 10, random: r));
        var built = ReferenceNetworks.LeNet5<float>(new RandomGenerator(42), initializer: Initializer.Default);
        for (int i = 0; i < byHand.Parameters.Count; i++)
            built.Parameters[i].Value.AsSpan().ToArray().Should().Equal(byHand.Parameters[i].Value.AsSpan().ToArray(), $"parameter {i}");
    }

    [Fact]
    public void SmallCnn_FiltersComeFromTheGaussian_DenseLayersFromXavier()
    {
        var model = ReferenceNetworks.SmallCnn<float>(new RandomGenerator(1), hiddenWidth: 20, filterStandardDeviation: 1.0 / 9);
        var filters = ((Conv2D<float>)model.Layers[0]).Weight.Value.AsSpan().ToArray();
        double std = Math.Sqrt(filters.Select(v => (double)v * v).Average());
        std.Should().BeInRange(0.07, 0.15);
        ((Conv2D<float>)model.Layers[0]).Bias.Should().BeNull();
        float limit = (float)Math.Sqrt(6.0 / (1352 + 20));
        ((Dense<float>)model.Layers[4]).Weight.Value.AsSpan().ToArray().Should().OnlyContain(v => Math.Abs(v) <= limit);
    }

    [Fact]
    public void OutputActivation_AppendsTheLayer()
    {
        ReferenceNetworks.DeepMlp<float>(new RandomGenerator(1), OutputActivation.Softmax).Layers[^1].Should().BeOfType<Softmax<float>>();
        ReferenceNetworks.SparkMlp<float>(new RandomGenerator(1)).Layers[^1].Should().BeOfType<Sigmoid<float>>();
        ReferenceNetworks.LeNet5<float>(new RandomGenerator(1)).Layers[^1].Should().BeOfType<Dense<float>>();
    }

    [Fact]
    public void BadArguments_ThrowNamingTheParameter()
    {
        FluentActions.Invoking(() => ReferenceNetworks.SmallCnn<float>(new RandomGenerator(1), hiddenWidth: 0))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("hiddenWidth");
        FluentActions.Invoking(() => ReferenceNetworks.ModernCnn<float>(new RandomGenerator(1), denseWidth: 0))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("denseWidth");
    }
}
