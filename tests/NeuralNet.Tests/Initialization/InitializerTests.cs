using NeuralNet.Initialization;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Tests.Initialization;

public class InitializerTests
{
    private static Sequential<T> Model<T>(RandomGenerator? random = null) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
        new([1, 8, 8], new Conv2D<T>(1, 4, 3, random: random), new ReLU<T>(), new Flatten<T>(),
            new Dense<T>(144, 32, random: random), new Tanh<T>(), new Dense<T>(32, 10, random: random));

    [Fact]
    public void SameSeed_GivesBitIdenticalWeights()
    {
        var a = Model<float>(new RandomGenerator(42));
        var b = Model<float>(new RandomGenerator(42));
        var c = Model<float>(new RandomGenerator(43));
        for (int i = 0; i < a.Parameters.Count; i++)
            a.Parameters[i].Value.Data.Should().Equal(b.Parameters[i].Value.Data);
        a.Parameters[0].Value.Data.Should().NotEqual(c.Parameters[0].Value.Data);
    }

    [Fact]
    public void Initialize_WithSeed_IsReproducible_AndFloatMatchesDoubleRounded()
    {
        var f = Model<float>();
        var d = Model<double>();
        Initializer.Gaussian(0.01).Initialize(f, 7).Should().Be(3);
        Initializer.Gaussian(0.01).Initialize(d, 7);
        for (int i = 0; i < f.Parameters.Count; i++)
        {
            var fs = f.Parameters[i].Value.Data;
            var ds = d.Parameters[i].Value.Data;
            for (int j = 0; j < fs.Length; j++) fs[j].Should().Be((float)ds[j]);
        }
        var again = Model<float>();
        Initializer.Gaussian(0.01).Initialize(again, 7);
        again.Parameters[2].Value.Data.Should().Equal(f.Parameters[2].Value.Data);
    }

    [Fact]
    public void ConstructorInitializer_DrawsTheSchemeOnce_FromTheGivenGenerator()
    {
        // A layer built with a scheme holds what re-initializing a layer with that scheme gives, from the same draws.
        var r = new RandomGenerator(11);
        var dense = new Dense<float>(30, 20, random: r, initializer: Initializer.HeNormal());
        var conv = Conv2D<float>.Same(3, 5, 3, random: r, initializer: Initializer.Gaussian(0.2, 0.5));
        var stateAfter = r.GetState();
        var r2 = new RandomGenerator(11);
        var dense2 = new Dense<float>(30, 20, random: new RandomGenerator(99));
        var conv2 = Conv2D<float>.Same(3, 5, 3, random: new RandomGenerator(99));
        Initializer.HeNormal().Initialize(dense2, r2);
        Initializer.Gaussian(0.2, 0.5).Initialize(conv2, r2);
        dense.Weight.Value.Data.Should().Equal(dense2.Weight.Value.Data);
        conv.Weight.Value.Data.Should().Equal(conv2.Weight.Value.Data);
        conv.Weight.Value.Data.Average().Should().BeApproximately(0.5f, 0.1f);
        r2.GetState().Should().Equal(stateAfter);
        dense.Bias!.Value.Data.Should().OnlyContain(v => v == 0f);
    }

    [Fact]
    public void ConstructorWithZeros_DrawsNothing()
    {
        var r = new RandomGenerator(5);
        var before = r.GetState();
        var dense = new Dense<float>(7, 3, random: r, initializer: Initializer.Zeros);
        var conv = new Conv2D<double>(2, 4, 3, random: r, initializer: Initializer.Zeros);
        r.GetState().Should().Equal(before);
        dense.Weight.Value.Data.Should().OnlyContain(v => v == 0f);
        conv.Weight.Value.Data.Should().OnlyContain(v => v == 0.0);
    }

    [Theory]
    [InlineData("Gaussian0.1", 0.1)]
    [InlineData("Gaussian0.01", 0.01)]
    [InlineData("XavierNormal", 0.0625)]   // √(2/(256 + 256))
    [InlineData("XavierUniform", 0.0625)]  // a/√3 with a = √(6/512)
    [InlineData("HeNormal", 0.08838834764831845)] // √(2/256)
    [InlineData("HeUniform", 0.08838834764831845)]
    public void Schemes_HaveTheirStandardDeviation(string scheme, double expectedStd)
    {
        var init = scheme switch
        {
            "Gaussian0.1" => Initializer.Gaussian(0.1),
            "Gaussian0.01" => Initializer.Gaussian(0.01),
            "XavierNormal" => Initializer.XavierNormal(),
            "XavierUniform" => Initializer.XavierUniform(),
            "HeNormal" => Initializer.HeNormal(),
            _ => Initializer.HeUniform(),
        };
        var layer = new Dense<double>(256, 256);
        layer.Bias!.Value.Fill(3);
        init.Initialize(layer, new RandomGenerator(1));

        var w = layer.Weight.Value.Data;
        double mean = w.Average();
        double std = Math.Sqrt(w.Select(v => (v - mean) * (v - mean)).Average());
        mean.Should().BeApproximately(0, 3 * expectedStd / 256); // 3 standard errors over 65,536 samples
        std.Should().BeApproximately(expectedStd, 0.02 * expectedStd);
        layer.Bias.Value.Data.Should().OnlyContain(v => v == 0);
        if (scheme.EndsWith("Uniform"))
            w.Max().Should().BeLessThanOrEqualTo(expectedStd * Math.Sqrt(3));
    }

    [Fact]
    public void ConvFans_AreChannelsTimesKernelArea()
    {
        var conv = new Conv2D<double>(6, 16, 5);
        Initializer.HeNormal().Initialize(conv, new RandomGenerator(3));
        var w = conv.Weight.Value.Data;
        double std = Math.Sqrt(w.Select(v => v * v).Average());
        std.Should().BeApproximately(Math.Sqrt(2.0 / 150), 0.05 * Math.Sqrt(2.0 / 150));
    }

    [Fact]
    public void DefaultConstructorInit_IsXavierUniform()
    {
        var a = new Dense<float>(100, 50);
        double limit = Math.Sqrt(6.0 / 150);
        a.Weight.Value.Data.Should().OnlyContain(v => Math.Abs(v) <= limit);
        a.Weight.Value.Data.Max().Should().BeGreaterThan((float)(0.9 * limit));
        a.Bias!.Value.Data.Should().OnlyContain(v => v == 0);
    }

    [Fact]
    public void Zeros_AndBadArguments()
    {
        var layer = new Dense<float>(3, 3);
        Initializer.Zeros.Initialize(layer, new RandomGenerator(1));
        layer.Weight.Value.Data.Should().OnlyContain(v => v == 0);
        Initializer.Zeros.Initialize(new ReLU<float>(), new RandomGenerator(1)).Should().Be(0);
        var negative = () => Initializer.Gaussian(-1);
        negative.Should().Throw<ArgumentOutOfRangeException>();
        var gain = () => Initializer.XavierUniform(0);
        gain.Should().Throw<ArgumentOutOfRangeException>();
    }
}
