using System.Text.Json;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Tests.TestSupport;
using NeuralNet.Training;

namespace NeuralNet.Tests.Modules;

public class StateDictTests
{
    private static Sequential<float> Mlp(ulong seed)
    {
        var r = new RandomGenerator(seed);
        return new Sequential<float>([4], new Dense<float>(4, 3, random: r), new ReLU<float>(), new Dense<float>(3, 2, random: r));
    }

    // The structure of the "nested" model of Fixtures/StateDict/make_state_dict_names.py.
    private static Sequential<float> Nested(ulong seed)
    {
        var r = new RandomGenerator(seed);
        return new Sequential<float>([1, 6, 6],
            new Conv2D<float>(1, 2, 3, random: r), new ReLU<float>(), new MaxPool2D<float>(2, 2), new Flatten<float>(),
            new Sequential<float>([8], new Dense<float>(8, 5, random: r), new Tanh<float>(), new Dense<float>(5, 3, bias: false, random: r)));
    }

    /// <summary>A layer with a buffer, as batch normalization will have.</summary>
    private sealed class Scale : Module<float>
    {
        private readonly Parameter<float> _weight = new("weight", new NdArray<float>(3));
        private readonly ModuleBuffer<float> _count = new("num_seen", new NdArray<float>(1));

        public override IReadOnlyList<Parameter<float>> Parameters => [_weight];

        public override IReadOnlyList<ModuleBuffer<float>> Buffers => [_count];

        public override NdArray<float> Forward(NdArray<float> input, bool training = false) => input;

        public override NdArray<float> Backward(NdArray<float> outputGradient) => outputGradient;

        public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) => inputShape.ToArray();
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("nested")]
    public void Names_AndShapes_AreThoseOfPyTorch(string model)
    {
        // Fixture written by Fixtures/StateDict/make_state_dict_names.py from torch 1.13's state_dict().
        var path = Path.Combine(RepoPaths.Root, "tests", "NeuralNet.Tests", "Fixtures", "StateDict", "state_dict_names.json");
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var expected = json.RootElement.GetProperty(model).EnumerateArray()
            .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt32()).ToArray())).ToList();
        var dict = (model == "mlp" ? Mlp(1) : Nested(1)).StateDict();
        dict.Keys.Should().Equal(expected.Select(e => e.Item1));
        foreach (var (name, shape) in expected) dict[name].ShapeArray().Should().Equal(shape, name);
    }

    [Fact]
    public void StateDict_IsACopy_AndLoadStateDict_RestoresItExactly()
    {
        var source = Nested(1);
        var target = Nested(2);
        var dict = source.StateDict();
        dict["0.weight"].Data.Should().Equal(source.Layers[0].Parameters[0].Value.Data);
        float saved = source.Layers[0].Parameters[0].Value.Data[0];
        source.Layers[0].Parameters[0].Value.Data[0] = saved + 1;
        dict["0.weight"].Data[0].Should().Be(saved, "the dictionary holds copies");
        source.Layers[0].Parameters[0].Value.Data[0] = saved;

        var result = target.LoadStateDict(dict);
        result.IsExactMatch.Should().BeTrue();
        var x = ModuleTestData.Uniform(3, 0, 1, 2, 1, 6, 6).Cast<float>();
        target.Forward(x).Data.Should().Equal(source.Forward(x).Data);
    }

    [Fact]
    public void ShapeMismatch_Throws_AndChangesNothing()
    {
        var model = Mlp(1);
        var before = model.StateDict();
        var dict = Mlp(2).StateDict();
        dict["2.weight"] = new NdArray<float>(3, 2); // transposed
        var act = () => model.LoadStateDict(dict, strict: false);
        act.Should().Throw<ArgumentException>().WithMessage("Sequential.LoadStateDict: shape mismatch for '2.weight': expected (2, 3), got (3, 2)*");
        model.StateDict()["0.weight"].Data.Should().Equal(before["0.weight"].Data, "nothing is copied when a check fails");
    }

    [Fact]
    public void Strict_RejectsMissingAndUnexpectedKeys_NonStrict_ReportsThem()
    {
        var model = Mlp(1);
        var dict = Mlp(2).StateDict();
        dict.Remove("2.bias");
        dict["3.weight"] = new NdArray<float>(1);
        var strict = () => model.LoadStateDict(dict);
        strict.Should().Throw<ArgumentException>().WithMessage("*strict*missing keys [2.bias], unexpected keys [3.weight]*");

        var expectedBias = model.StateDict()["2.bias"];
        var result = model.LoadStateDict(dict, strict: false);
        result.MissingKeys.Should().Equal("2.bias");
        result.UnexpectedKeys.Should().Equal("3.weight");
        result.IsExactMatch.Should().BeFalse();
        model.StateDict()["0.weight"].Data.Should().Equal(dict["0.weight"].Data, "present entries are loaded");
        model.StateDict()["2.bias"].Data.Should().Equal(expectedBias.Data, "a missing entry is left as it was");
    }

    [Fact]
    public void Buffers_AreIncluded_AfterTheirModulesParameters()
    {
        var model = new Sequential<float>([3], new Dense<float>(3, 3, random: new RandomGenerator(1)), new Scale());
        model.StateDict().Keys.Should().Equal("0.weight", "0.bias", "1.weight", "1.num_seen");
        model.Buffers.Should().ContainSingle().Which.Name.Should().Be("num_seen");
        var dict = model.StateDict();
        dict["1.num_seen"].Data[0] = 42;
        model.LoadStateDict(dict);
        model.Buffers[0].Value.Data[0].Should().Be(42);
    }

    [Fact]
    public void Summary_ListsLayersShapesAndCounts()
    {
        var model = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1));
        var summary = model.Summary();
        summary.Rows.Select(r => r.Name).Should().Equal("0", "1", "2");
        summary.Rows.Select(r => r.TrainableParameters).Should().Equal(50_240L, 0L, 650L);
        summary.Rows[0].OutputShape.Should().Equal(64);
        summary.Rows[2].OutputShape.Should().Equal(10);
        summary.TrainableParameters.Should().Be(50_890);
        summary.NonTrainableParameters.Should().Be(0);
        summary.TotalParameters.Should().Be(model.Parameters.Sum(p => p.Value.Length));
        string table = summary.ToString();
        table.Should().Contain("Dense(784 -> 64)").And.Contain("(N, 64)").And.Contain("50,240").And.Contain("Total params: 50,890")
            .And.Contain("Trainable params: 50,890").And.Contain("Non-trainable params: 0");
    }

    [Fact]
    public void Summary_ExpandsNestedChains_AndCountsBuffersAsNonTrainable()
    {
        var summary = Nested(1).Summary();
        summary.Rows.Select(r => r.Name).Should().Equal("0", "1", "2", "3", "4.0", "4.1", "4.2");
        summary.Rows[0].OutputShape.Should().Equal(2, 4, 4);
        summary.Rows[3].OutputShape.Should().Equal(8);
        summary.Rows[^1].TrainableParameters.Should().Be(15);
        summary.TrainableParameters.Should().Be(2 * 9 + 2 + 8 * 5 + 5 + 15);

        var withBuffer = new Sequential<float>([3], new Scale()).Summary();
        withBuffer.TrainableParameters.Should().Be(3);
        withBuffer.NonTrainableParameters.Should().Be(1);
        withBuffer.TotalParameters.Should().Be(4);
    }
}
