using System.Numerics;
using System.Text.Json.Nodes;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Serialization;
using NeuralNet.Tests.Data;

namespace NeuralNet.Tests.Serialization;

public class ModelSerializerTests
{
    private static Sequential<float> Mlp(ulong seed = 1)
    {
        var rng = new RandomGenerator(seed);
        return new Sequential<float>([784],
            new Dense<float>(784, 64, random: rng), new Sigmoid<float>(),
            new Dense<float>(64, 10, random: rng), new Softmax<float>());
    }

    private static Sequential<float> LeNet(ulong seed = 2)
    {
        var rng = new RandomGenerator(seed);
        return new Sequential<float>([1, 28, 28],
            new Conv2D<float>(1, 6, 5, random: rng), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Conv2D<float>(6, 16, 5, padding: 1, bias: false, random: rng), new Tanh<float>(), new MaxPool2D<float>(2, 2),
            new Flatten<float>(), new Dense<float>(16 * 5 * 5, 10, random: rng));
    }

    private static void RandomizeBiases<T>(Sequential<T> model, ulong seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Biases start at zero; give them values so a lost bias would show.
        var rng = new RandomGenerator(seed);
        foreach (var p in model.Parameters)
            if (p.Name == "bias")
                for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = T.CreateChecked(rng.NextGaussian());
    }

    [Fact]
    public void Mlp_LoadedModelPredictsBitIdentically()
    {
        using var dir = new TempDirectory();
        var model = Mlp();
        RandomizeBiases(model, 9);
        var x = MnistFixture.Data.Test.Take(256).Features;
        var before = model.Forward(x).Clone();

        string path = dir.File("mlp.safetensors");
        ModelSerializer.Save(model, path, new Dictionary<string, string> { ["trained_on"] = "mnist" });
        var loaded = ModelSerializer.Load(path);

        loaded.Layers.Select(l => l.GetType()).Should().Equal(model.Layers.Select(l => l.GetType()));
        loaded.InputShape.Should().Equal(784);
        var after = loaded.Forward(x);
        after.Data.AsSpan().SequenceEqual(before.Data).Should().BeTrue("a loaded model predicts bit-identically");
        SafeTensorsFile.Load(path).Metadata["trained_on"].Should().Be("mnist");
        ModelSerializer.NamedParameters(loaded).Select(p => p.Name).Should().Equal("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias");
    }

    [Fact]
    public void Cnn_LoadedModelPredictsBitIdentically()
    {
        using var dir = new TempDirectory();
        var model = LeNet();
        RandomizeBiases(model, 10);
        var x = MnistFixture.Data.Test.Take(32).Reshape(1, 28, 28).Features;
        var before = model.Forward(x).Clone();
        string path = dir.File("lenet.safetensors");
        ModelSerializer.Save(model, path);
        var loaded = ModelSerializer.Load(path);
        var conv2 = (Conv2D<float>)loaded.Layers[3];
        (conv2.InChannels, conv2.OutChannels, conv2.KernelSize, conv2.Stride, conv2.Padding, conv2.HasBias).Should().Be((6, 16, 5, 1, 1, false));
        loaded.Forward(x).Data.AsSpan().SequenceEqual(before.Data).Should().BeTrue();
    }

    [Fact]
    public void DoubleModel_RoundTripsAsF64_AndFloatFileLoadsIntoDouble()
    {
        using var dir = new TempDirectory();
        var rng = new RandomGenerator(3);
        var model = new Sequential<double>([5], new Dense<double>(5, 3, random: rng), new Tanh<double>());
        string path = dir.File("d.safetensors");
        ModelSerializer.Save(model, path);
        SafeTensorsFile.Load(path).GetRequired("layers.0.weight").DType.Should().Be(SafeTensorDType.F64);
        var loaded = ModelSerializer.Load<double>(path);
        ((Dense<double>)loaded.Layers[0]).Weight.Value.Data.Should().Equal(((Dense<double>)model.Layers[0]).Weight.Value.Data);

        string f = dir.File("f.safetensors");
        var mlp = Mlp();
        ModelSerializer.Save(mlp, f);
        var widened = ModelSerializer.Load<double>(f);
        ((Dense<double>)widened.Layers[0]).Weight.Value.Data[17].Should().Be(((Dense<float>)mlp.Layers[0]).Weight.Value.Data[17]);
    }

    [Fact]
    public void NestedSequential_RoundTrips()
    {
        using var dir = new TempDirectory();
        var rng = new RandomGenerator(4);
        var block = new Sequential<float>([8], new Dense<float>(8, 4, random: rng), new ReLU<float>());
        var model = new Sequential<float>([8], block, new Dense<float>(4, 2, random: rng));
        ModelSerializer.NamedParameters(model).Select(p => p.Name).Should().Equal("layers.0.layers.0.weight", "layers.0.layers.0.bias", "layers.1.weight", "layers.1.bias");
        string path = dir.File("n.safetensors");
        ModelSerializer.Save(model, path);
        var loaded = ModelSerializer.Load(path);
        var x = new NdArray<float>(2, 8);
        for (int i = 0; i < x.Length; i++) x.Data[i] = i * 0.1f - 0.5f;
        loaded.Forward(x).Data.Should().Equal(model.Forward(x).Data);
    }

    [Fact]
    public void Architecture_IsReadableJson()
    {
        var json = JsonNode.Parse(ModelSerializer.DescribeArchitecture(LeNet()))!;
        json["input_shape"]!.AsArray().Select(n => (int)n!).Should().Equal(1, 28, 28);
        json["output_shape"]!.AsArray().Select(n => (int)n!).Should().Equal(10);
        json["layers"]!.AsArray().Select(l => (string)l!["type"]!).Should().Equal("Conv2D", "ReLU", "MaxPool2D", "Conv2D", "Tanh", "MaxPool2D", "Flatten", "Dense");
        json["layers"]![3]!["config"]!.ToJsonString().Should().Be("{\"in_channels\":6,\"out_channels\":16,\"kernel_size\":5,\"stride\":1,\"padding\":1,\"bias\":false}");
        var file = ModelSerializer.ToSafeTensors(Mlp());
        file.Metadata[ModelSerializer.FormatVersionKey].Should().Be("1");
        file.Metadata[ModelSerializer.FormatKey].Should().Be("neuralnet.model");
    }

    [Fact]
    public void UserModule_RegisteredFactory_RoundTrips()
    {
        ModuleRegistry.Register<Scale<float>, float>("Test.Scale",
            m => new JsonObject { ["features"] = m.Features },
            c => new Scale<float>(ConfigReader.Int(c, "features")));
        using var dir = new TempDirectory();
        var scale = new Scale<float>(3);
        scale.Gain.Value.Data[1] = 2.5f;
        var model = new Sequential<float>([3], scale, new Sigmoid<float>());
        string path = dir.File("u.safetensors");
        ModelSerializer.Save(model, path);
        var loaded = ModelSerializer.Load(path);
        ((Scale<float>)loaded.Layers[0]).Gain.Value.Data.Should().Equal(1f, 2.5f, 1f);

        // Not registered for double: saving a double model with it fails with a clear message.
        var d = new Sequential<double>([3], new Scale<double>(3));
        FluentActions.Invoking(() => ModelSerializer.Save(d, dir.File("x"))).Should().Throw<ArgumentException>().WithMessage("*Scale*not registered*");
        FluentActions.Invoking(() => ModuleRegistry.Register<Scale<float>, float>("Dense", m => [], c => new Scale<float>(1)))
            .Should().Throw<ArgumentException>().WithMessage("*'Dense' is already registered*");
    }

    // ---- bad files -------------------------------------------------------------------------------------------

    private static string SaveMlp(TempDirectory dir, string name = "m.safetensors")
    {
        string path = dir.File(name);
        ModelSerializer.Save(Mlp(), path);
        return path;
    }

    /// <summary>Loads the container, lets the test tamper with it, and saves it again with a valid checksum.</summary>
    private static string Tamper(TempDirectory dir, Action<SafeTensorsFile> edit)
    {
        string path = SaveMlp(dir);
        var file = SafeTensorsFile.Load(path);
        edit(file);
        file.Save(path);
        return path;
    }

    [Fact]
    public void TruncatedModelFile_Fails()
    {
        using var dir = new TempDirectory();
        string path = SaveMlp(dir);
        var bytes = File.ReadAllBytes(path);
        foreach (int keep in new[] { 0, 5, 8, 200, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(path, bytes[..keep]);
            FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>().WithMessage($"{path}: *", $"keeping {keep} bytes");
        }
    }

    [Fact]
    public void CorruptedWeightByte_FailsChecksum()
    {
        using var dir = new TempDirectory();
        string path = SaveMlp(dir);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length - 1000] ^= 1;
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>().WithMessage($"{path}: checksum mismatch*");
    }

    [Fact]
    public void HeaderLengthLargerThanFile_Fails()
    {
        using var dir = new TempDirectory();
        string path = SaveMlp(dir);
        var bytes = File.ReadAllBytes(path);
        BitConverter.GetBytes((ulong)bytes.Length).CopyTo(bytes, 0);
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>().WithMessage($"{path}: the header length at offset 0 claims*");
    }

    [Fact]
    public void WrongTensorShape_Fails()
    {
        using var dir = new TempDirectory();
        string path = Tamper(dir, f => { f.Remove("layers.2.weight"); f.Add("layers.2.weight", new NdArray<float>(10, 63)); });
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path}: tensor 'layers.2.weight' has shape (10, 63) but layer 2 (Dense) of the architecture expects (10, 64).");
    }

    [Fact]
    public void MissingTensor_Fails()
    {
        using var dir = new TempDirectory();
        string path = Tamper(dir, f => f.Remove("layers.0.bias"));
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path}: missing tensor 'layers.0.bias' of shape (64) required by layer 0 (Dense) of the architecture.");
    }

    [Fact]
    public void LeftoverTensor_Fails_ButOtherPrefixesAreIgnored()
    {
        using var dir = new TempDirectory();
        string path = Tamper(dir, f => f.Add("layers.1.weight", new NdArray<float>(2)));
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage("*tensor 'layers.1.weight' (2) matches no parameter*");
        string ok = Tamper(dir, f => f.Add("optimizer.velocity.layers.0.weight", new NdArray<float>(64, 784)));
        ModelSerializer.Load(ok).Layers.Should().HaveCount(4);
    }

    [Theory]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":784,\"out_features\":64,\"bias\":true}},{\"type\":\"Dense\",\"config\":{\"in_features\":65,\"out_features\":10,\"bias\":true}}]}", "*missing tensor 'layers.1.weight' of shape (10, 65) required by layer 1 (Dense) of the architecture*")]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":784,\"out_features\":64,\"bias\":true}},{\"type\":\"Sigmoid\"},{\"type\":\"Dense\",\"config\":{\"in_features\":64,\"out_features\":10,\"bias\":true}},{\"type\":\"Softmax\"},{\"type\":\"Flatten\"},{\"type\":\"MaxPool2D\",\"config\":{\"kernel_size\":2,\"stride\":2}}]}", "*architecture of model is inconsistent*layer 5 (MaxPool2D)*")]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Mystery\",\"config\":{}}]}", "*layer 0 has type 'Mystery', which is not registered for Single*")]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":784}}]}", "*layer 0 (Dense) cannot be built*'out_features' is missing*")]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":-3,\"out_features\":2,\"bias\":true}}]}", "*layer 0 (Dense) cannot be built*")]
    [InlineData("{\"input_shape\":[0],\"layers\":[{\"type\":\"ReLU\"}]}", "*input_shape of model entry 0 is 0*")]
    [InlineData("{\"layers\":[]}", "*no 'input_shape'*")]
    [InlineData("{\"input_shape\":[4],\"input_shape\":[4],\"layers\":[{\"type\":\"ReLU\"}]}", "*architecture*malformed*")]
    [InlineData("{\"input_shape\":[4],\"layers\":[{\"type\":\"ReLU\",\"config\":[1]}]}", "*layer 0 has a 'config' that is not an object*")]
    [InlineData("{\"input_shape\":[4],\"layers\":[{\"type\":7}]}", "*layer 0 of the architecture has no string 'type'*")]
    [InlineData("{\"input_shape\":[4],\"layers\":{\"type\":\"ReLU\"}}", "*no non-empty 'layers' array*")]
    [InlineData("{\"input_shape\":[4],\"layers\":[{\"type\":\"Sequential\",\"config\":{\"input_shape\":[5],\"layers\":[{\"type\":\"ReLU\"}]}}]}", "*inconsistent*")]
    [InlineData("[1,2]", "*not a JSON object*")]
    [InlineData("{\"input_shape\":", "*not valid JSON*")]
    [InlineData("{\"input_shape\":[784],\"output_shape\":[9],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":784,\"out_features\":64,\"bias\":true}},{\"type\":\"Sigmoid\"},{\"type\":\"Dense\",\"config\":{\"in_features\":64,\"out_features\":10,\"bias\":true}},{\"type\":\"Softmax\"}]}", "*records output shape (9) but its layers produce (10)*")]
    public void ArchitectureThatDoesNotFit_Fails(string architecture, string message)
    {
        using var dir = new TempDirectory();
        string path = Tamper(dir, f => f.Metadata[ModelSerializer.ArchitectureKey] = architecture);
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>().WithMessage(path + ": " + message);
    }

    [Theory]
    [InlineData("{\"input_shape\":[1,28,28],\"layers\":[{\"type\":\"Conv2D\",\"config\":{\"in_channels\":1,\"out_channels\":1000000,\"kernel_size\":40,\"stride\":1,\"padding\":0,\"bias\":true}}]}",
        "*missing tensor 'layers.0.weight' of shape (1000000, 1, 40, 40) required by layer 0 (Conv2D)*")]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":784,\"out_features\":2000000000,\"bias\":false}}]}",
        "*tensor 'layers.0.weight' has shape (64, 784) but layer 0 (Dense) of the architecture expects (2000000000, 784)*")]
    [InlineData("{\"input_shape\":[784],\"layers\":[{\"type\":\"Sequential\",\"config\":{\"input_shape\":[784],\"layers\":[{\"type\":\"Dense\",\"config\":{\"in_features\":784,\"out_features\":1000000,\"bias\":true}}]}}]}",
        "*missing tensor 'layers.0.layers.0.weight' of shape (1000000, 784) required by layer 0, layer 0 (Dense)*")]
    [InlineData("{\"input_shape\":[65536,65536],\"layers\":[{\"type\":\"ReLU\"}]}", "*input_shape of model [65536,65536] has more than*elements per example*")]
    public void HostileArchitecture_FailsBeforeAllocating(string architecture, string message)
    {
        // A model file of a few hundred bytes with a valid checksum whose architecture asks for gigabytes of parameters:
        // the declared shapes are checked against the file's tensors before any module is built.
        using var dir = new TempDirectory();
        var file = new SafeTensorsFile();
        file.Metadata[ModelSerializer.FormatKey] = ModelSerializer.ModelFormat;
        file.Metadata[ModelSerializer.FormatVersionKey] = "1";
        file.Metadata[ModelSerializer.ArchitectureKey] = architecture;
        if (architecture.Contains("2000000000", StringComparison.Ordinal))
            file.Add("layers.0.weight", new NdArray<float>(64, 784));
        string path = dir.File("hostile.safetensors");
        file.Save(path);
        ModelSerializer.Load(SaveMlp(dir)); // JIT warm-up, so the clock measures the rejection
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>().WithMessage(path + ": " + message);
        clock.Stop();
        (GC.GetAllocatedBytesForCurrentThread() - allocated).Should().BeLessThan(100_000_000 / 8, "nothing is sized from the architecture before it matches the file");
        clock.Elapsed.TotalSeconds.Should().BeLessThan(0.5, "it takes milliseconds (38 s before the check); the margin is for a loaded machine");
    }

    [Fact]
    public void WrongFormatOrVersion_Fails()
    {
        using var dir = new TempDirectory();
        string newer = Tamper(dir, f => f.Metadata[ModelSerializer.FormatVersionKey] = "2");
        FluentActions.Invoking(() => ModelSerializer.Load(newer)).Should().Throw<InvalidDataException>().WithMessage("*format version 2, newer than the 1*");
        string other = Tamper(dir, f => f.Metadata.Remove(ModelSerializer.FormatKey));
        FluentActions.Invoking(() => ModelSerializer.Load(other)).Should().Throw<InvalidDataException>().WithMessage("*'neuralnet.format' is missing*");
        string nan = Tamper(dir, f => { var t = f.GetRequired("layers.0.bias").ToNdArray<float>(); t.Data[3] = float.NaN; f.Remove("layers.0.bias"); f.Add("layers.0.bias", t); });
        FluentActions.Invoking(() => ModelSerializer.Load(nan)).Should().Throw<InvalidDataException>().WithMessage("*'layers.0.bias' holds NaN at element 3*");
    }

    [Fact]
    public void SaveOverExistingModel_IsAtomicAndReplaces()
    {
        using var dir = new TempDirectory();
        string path = SaveMlp(dir);
        var second = Mlp(seed: 99);
        ModelSerializer.Save(second, path);
        ((Dense<float>)ModelSerializer.Load(path).Layers[0]).Weight.Value.Data.Should().Equal(((Dense<float>)second.Layers[0]).Weight.Value.Data);
        Directory.GetFiles(dir.Path).Should().ContainSingle();
        FluentActions.Invoking(() => ModelSerializer.Save(second, path, new Dictionary<string, string> { ["neuralnet.x"] = "y" }))
            .Should().Throw<ArgumentException>().WithMessage("*reserved*");
    }

    /// <summary>A user-defined module: y = x ⊙ gain, with a learned gain per feature.</summary>
    private sealed class Scale<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private NdArray<T>? _x, _y, _dx;

        public Scale(int features)
        {
            Features = features;
            var g = new NdArray<T>(features);
            g.Fill(T.One);
            Gain = new Parameter<T>("gain", g);
        }

        public int Features { get; }

        public Parameter<T> Gain { get; }

        public override IReadOnlyList<Parameter<T>> Parameters => [Gain];

        public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) =>
            inputShape.Length == 1 && inputShape[0] == Features ? [Features] : throw new ArgumentException($"Scale expects ({Features}).");

        public override NdArray<T> Forward(NdArray<T> input, bool training = false)
        {
            _x = input;
            _y = new NdArray<T>(input.ShapeArray());
            for (int i = 0; i < input.Length; i++) _y.Data[i] = input.Data[i] * Gain.Value.Data[i % Features];
            return _y;
        }

        public override NdArray<T> Backward(NdArray<T> outputGradient)
        {
            _dx = new NdArray<T>(outputGradient.ShapeArray());
            for (int i = 0; i < outputGradient.Length; i++)
            {
                _dx.Data[i] = outputGradient.Data[i] * Gain.Value.Data[i % Features];
                Gain.Gradient.Data[i % Features] += outputGradient.Data[i] * _x!.Data[i];
            }
            return _dx;
        }
    }
}
