using NeuralNet.Modules;
using NeuralNet.Serialization;
using NeuralNet.Tests.Serialization;

namespace NeuralNet.Tests.Initialization;

/// <summary>Tests that re-seed the process-wide <see cref="RandomGenerator.Default"/>; they run alone, since any test building a
/// layer without a generator draws from it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class DefaultGeneratorCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "RandomGenerator.Default";
}

[Collection(DefaultGeneratorCollection.Name)]
public class DefaultGeneratorTests
{
    [Fact]
    public void LayersWithoutGenerator_OfOneShape_StartDifferent()
    {
        var a = new Dense<float>(20, 10);
        var b = new Dense<float>(20, 10);
        a.Weight.Value.Data.Should().NotEqual(b.Weight.Value.Data, "two layers drawing from the default generator get different numbers");
        var c = new Conv2D<float>(2, 3, 3);
        var d = new Conv2D<float>(2, 3, 3);
        c.Weight.Value.Data.Should().NotEqual(d.Weight.Value.Data);
    }

    [Fact]
    public void SetDefaultSeed_MakesLayersWithoutGeneratorReproducible()
    {
        RandomGenerator.SetDefaultSeed(1234);
        var a1 = new Dense<float>(20, 10);
        var a2 = new Conv2D<float>(1, 2, 3);
        RandomGenerator.SetDefaultSeed(1234);
        var b1 = new Dense<float>(20, 10);
        var b2 = new Conv2D<float>(1, 2, 3);
        a1.Weight.Value.Data.Should().Equal(b1.Weight.Value.Data);
        a2.Weight.Value.Data.Should().Equal(b2.Weight.Value.Data);
        RandomGenerator.SetDefaultSeed(1235);
        new Dense<float>(20, 10).Weight.Value.Data.Should().NotEqual(a1.Weight.Value.Data, "another seed gives other weights");

        // The default generator at seed s gives what an explicit generator of seed s gives to the first layer.
        RandomGenerator.SetDefaultSeed(77);
        new Dense<float>(5, 4).Weight.Value.Data.Should().Equal(new Dense<float>(5, 4, random: new RandomGenerator(77)).Weight.Value.Data);
    }

    [Fact]
    public void ExplicitGenerator_AndLoading_DoNotTouchTheDefault()
    {
        RandomGenerator.SetDefaultSeed(5);
        var expected = new Dense<float>(6, 3).Weight.Value.Clone();

        RandomGenerator.SetDefaultSeed(5);
        _ = new Dense<float>(50, 50, random: new RandomGenerator(9));
        using (var dir = new TempDirectory())
        {
            var path = Path.Combine(dir.Path, "m.safetensors");
            ModelSerializer.Save(new Sequential<float>([4], new Dense<float>(4, 2, random: new RandomGenerator(1))), path);
            _ = ModelSerializer.Load(path);
        }
        new Dense<float>(6, 3).Weight.Value.Data.Should().Equal(expected.Data,
            "an explicit generator and loading a model leave the default sequence where it was");
    }
}
