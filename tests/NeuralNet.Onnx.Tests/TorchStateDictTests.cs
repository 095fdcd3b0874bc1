using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Serialization;

namespace NeuralNet.Onnx.Tests;

/// <summary>
/// PyTorch state dicts in safetensors (core <see cref="TorchStateDict"/>); here beside the ONNX tests because both use
/// the PyTorch fixtures of Fixtures/pytorch.
/// </summary>
public class TorchStateDictTests
{
    // The NeuralNet twins of make_fixtures.py's nn.Sequential networks.
    internal static Sequential<float> Mlp() => new([12],
        new Dense<float>(12, 16), new ReLU<float>(), new Dense<float>(16, 8), new Sigmoid<float>(), new Dense<float>(8, 5), new Softmax<float>());

    internal static Sequential<float> LeNet() => new([1, 28, 28],
        new Conv2D<float>(1, 6, 5, padding: 2), new ReLU<float>(), new MaxPool2D<float>(2, 2),
        new Conv2D<float>(6, 16, 5), new Tanh<float>(), new MaxPool2D<float>(2, 2),
        new Flatten<float>(),
        new Dense<float>(400, 120), new ReLU<float>(), new Dense<float>(120, 84), new ReLU<float>(), new Dense<float>(84, 10));

    // make_fixtures.py's cnn(), layer for layer (so the child indices, and the state-dict names, are PyTorch's).
    internal static Sequential<float> Cnn() => new([3, 11, 13],
        new Conv2D<float>(3, 6, 3, padding: 1), new BatchNorm2d<float>(6), new LeakyReLU<float>(0.1), new MaxPool2D<float>(3, 2, padding: 1),
        new Conv2D<float>(6, 8, 3), new BatchNorm2d<float>(8), new ReLU<float>(), new AvgPool2D<float>(2),
        new Dropout<float>(0.3), new GlobalAvgPool2D<float>(), new Flatten<float>(),
        new Dense<float>(8, 5), new BatchNorm1d<float>(5));

    [Theory]
    [InlineData("mlp")]
    [InlineData("lenet")]
    [InlineData("cnn")]
    public void PyTorchStateDictLoadsAndPredictsLikePyTorch(string name)
    {
        var model = name switch { "mlp" => Mlp(), "lenet" => LeNet(), _ => Cnn() };
        TorchStateDict.Load(model, Fixtures.Path_($"{name}.safetensors"));
        var expected = Fixtures.Load(name);
        OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(model, expected.Input, expected.InputShape), expected.Output);
    }

    [Fact]
    public void LayersPrefixIsRecognized()
    {
        var source = SafeTensorsFile.Load(Fixtures.Path_("mlp.safetensors"), requireChecksum: false);
        var renamed = new SafeTensorsFile();
        foreach (var t in source.Tensors) renamed.Add("layers." + t.Name, t.ToNdArray<float>());
        var model = Mlp();
        TorchStateDict.Load(model, SafeTensorsFile.Parse(renamed.ToArray(), "renamed"));
        var expected = Fixtures.Load("mlp");
        OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(model, expected.Input, expected.InputShape), expected.Output);
    }

    [Fact]
    public void WrongArchitectureFailsNamingTheTensorAndLeavesTheModelUnchanged()
    {
        var model = new Sequential<float>([12],
            new Dense<float>(12, 16), new ReLU<float>(), new Dense<float>(16, 9), new Sigmoid<float>(), new Dense<float>(9, 5), new Softmax<float>());
        float[] before = model.Layers[0].Parameters[0].Value.Data.ToArray();
        var act = () => TorchStateDict.Load(model, Fixtures.Path_("mlp.safetensors"));
        act.Should().Throw<InvalidDataException>().WithMessage("*mlp.safetensors*'2.weight' has shape (8, 16), the model expects (9, 16)*");
        model.Layers[0].Parameters[0].Value.Data.Should().Equal(before);

        var shorter = new Sequential<float>([12], new Dense<float>(12, 16), new ReLU<float>(), new Dense<float>(16, 8));
        var act2 = () => TorchStateDict.Load(shorter, Fixtures.Path_("mlp.safetensors"));
        act2.Should().Throw<InvalidDataException>().WithMessage("*unexpected 4.weight, 4.bias*");
    }

    [Fact]
    public void SavedLayoutIsTheOneMakeFixturesVerifiedInPyTorch()
    {
        // lenet.from-neuralnet.safetensors was written by this code and checked by
        // `make_fixtures.py --check` (load_state_dict(strict=True) into the PyTorch LeNet-5 gives PyTorch's outputs).
        var model = LeNet();
        TorchStateDict.Load(model, Fixtures.Path_("lenet.safetensors"));
        byte[] written = TorchStateDict.ToSafeTensors(model).ToArray();
        string committed = Fixtures.Path_("lenet.from-neuralnet.safetensors");
        if (Environment.GetEnvironmentVariable("NEURALNET_WRITE_FIXTURES") is { Length: > 0 } sourceDir)
            File.WriteAllBytes(Path.Combine(sourceDir, "lenet.from-neuralnet.safetensors"), written);
        written.Should().Equal(File.ReadAllBytes(committed));

        var file = SafeTensorsFile.Parse(written, "written");
        file.Tensors.Select(t => t.Name).Should().Equal(
            "0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias", "11.weight", "11.bias");
        file.Tensors.Should().OnlyContain(t => t.DType == SafeTensorDType.F32);
        file.Metadata[TorchStateDict.FormatKey].Should().Be("pt");
    }

    [Fact]
    public void BatchNormBuffersRoundTripInPyTorchsLayout()
    {
        // cnn.safetensors is PyTorch's state dict: num_batches_tracked is an int64 scalar (shape []) counting 4 batches.
        var source = SafeTensorsFile.Load(Fixtures.Path_("cnn.safetensors"), requireChecksum: false);
        source.GetRequired("1.num_batches_tracked").DType.Should().Be(SafeTensorDType.I64);
        source.GetRequired("1.num_batches_tracked").Shape.Length.Should().Be(0);
        var model = Cnn();
        TorchStateDict.Load(model, source);
        var bn = (BatchNorm2d<float>)model.Layers[5];
        bn.NumBatchesTracked.Data.Should().Equal(4f);
        bn.RunningMean.Data.Should().Equal(source.GetRequired("5.running_mean").ToNdArray<float>().Data);

        // Written back: the same names in PyTorch's order, float32 except the counters, which are int64 scalars again.
        byte[] written = TorchStateDict.ToSafeTensors(model).ToArray();
        string committed = Fixtures.Path_("cnn.from-neuralnet.safetensors");
        if (Environment.GetEnvironmentVariable("NEURALNET_WRITE_FIXTURES") is { Length: > 0 } sourceDir)
            File.WriteAllBytes(Path.Combine(sourceDir, "cnn.from-neuralnet.safetensors"), written);
        // That file passed `make_fixtures.py --check-cnn` (dtype and shape of every entry as in PyTorch's own state dict,
        // load_state_dict(strict=True), PyTorch's outputs).
        written.Should().Equal(File.ReadAllBytes(committed));
        var file = SafeTensorsFile.Parse(written, "written");
        file.Tensors.Select(t => t.Name).Should().Equal(source.Tensors.Select(t => t.Name));
        foreach (var t in file.Tensors)
        {
            var original = source.GetRequired(t.Name);
            t.DType.Should().Be(original.DType, t.Name);
            t.ShapeArray().Should().Equal(original.ShapeArray(), t.Name);
        }
        file.GetRequired("12.num_batches_tracked").ToInt64Array().Should().Equal(4L);

        // And read back into a fresh model: every parameter and buffer bit for bit.
        var copy = Cnn();
        TorchStateDict.Load(copy, file);
        foreach (var (name, tensor) in copy.StateDict())
            tensor.Data.Should().Equal(model.StateDict()[name].Data, name);
    }

    [Fact]
    public void EntriesAreTheNamesOfTheCoreStateDict()
    {
        var model = Cnn();
        TorchStateDict.Entries(model).Select(e => e.Name).Should().Equal(model.StateDict().Keys);
    }

    [Fact]
    public void IntegerCounterWithAWrongShapeFailsNamingIt()
    {
        var source = SafeTensorsFile.Load(Fixtures.Path_("cnn.safetensors"), requireChecksum: false);
        var edited = new SafeTensorsFile();
        foreach (var t in source.Tensors)
        {
            if (t.Name == "5.num_batches_tracked") edited.Add(t.Name, [4L, 4L], 2);
            else if (t.DType == SafeTensorDType.I64) edited.AddScalar(t.Name, t.ToInt64Array()[0]);
            else edited.Add(t.Name, t.ToNdArray<float>());
        }
        var model = Cnn();
        var act = () => TorchStateDict.Load(model, SafeTensorsFile.Parse(edited.ToArray(), "edited"));
        act.Should().Throw<InvalidDataException>().WithMessage("*edited*'5.num_batches_tracked' has shape (2)*");
        ((BatchNorm2d<float>)model.Layers[1]).RunningMean.Data.Should().OnlyContain(v => v == 0, "a failed load changes nothing");
    }

    [Fact]
    public void NestedSequentialUsesDottedIndices()
    {
        var model = new Sequential<float>([4], new Sequential<float>([4], new Dense<float>(4, 3), new Tanh<float>()), new Dense<float>(3, 2));
        TorchStateDict.Entries(model).Select(e => e.Name).Should().Equal("0.0.weight", "0.0.bias", "1.weight", "1.bias");
        var copy = new Sequential<float>([4], new Sequential<float>([4], new Dense<float>(4, 3, random: new RandomGenerator(9)), new Tanh<float>()), new Dense<float>(3, 2, random: new RandomGenerator(9)));
        TorchStateDict.Load(copy, SafeTensorsFile.Parse(TorchStateDict.ToSafeTensors(model).ToArray(), "nested"));
        copy.Parameters.Select(p => p.Value.Data).Should().BeEquivalentTo(model.Parameters.Select(p => p.Value.Data), o => o.WithStrictOrdering());
    }
}
