using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using MnistSample;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Onnx.Tests;

public class ExportTests
{
    public static TheoryData<string> PresetNames() => new(Preset.All.Select(p => p.Name));

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void EveryMnistPresetRunsInOnnxRuntimeWithTheSameOutputs(string preset)
    {
        var model = ModelFactory.Build(Preset.Get(preset), new RandomGenerator(7));
        byte[] onnx = OnnxExporter.ToBytes(model);
        foreach (int batch in new[] { 1, 5 })
        {
            int[] shape = [batch, .. model.InputShape];
            float[] x = OrtHelper.RandomInput(shape, seed: batch);
            OrtHelper.ShouldMatch(OrtHelper.Run(onnx, x, shape), OrtHelper.RunNeuralNet(model, x, shape), because: $"({preset}, batch {batch})");
        }
    }

    public static TheoryData<string> SingleModules() =>
    [
        "dense", "dense-nobias", "conv", "conv-stride-pad", "conv-nobias", "maxpool", "maxpool-stride1", "flatten",
        "sigmoid", "tanh", "relu", "softmax",
        "batchnorm2d", "batchnorm2d-noaffine", "batchnorm1d", "dropout", "avgpool", "avgpool-pad-stride", "globalavgpool",
        "maxpool-pad", "conv-same", "leakyrelu", "gelu",
    ];

    [Theory]
    [MemberData(nameof(SingleModules))]
    public void EachModuleAloneMatchesOnnxRuntime(string which)
    {
        var r = new RandomGenerator(3);
        Sequential<float> model = which switch
        {
            "dense" => new([13], new Dense<float>(13, 7, random: r)),
            "dense-nobias" => new([5], new Dense<float>(5, 11, bias: false, random: r)),
            "conv" => new([3, 9, 7], new Conv2D<float>(3, 4, 3, random: r)),
            "conv-stride-pad" => new([2, 11, 8], new Conv2D<float>(2, 5, 4, stride: 3, padding: 2, random: r)),
            "conv-nobias" => new([1, 6, 6], new Conv2D<float>(1, 3, 2, bias: false, random: r)),
            "maxpool" => new([3, 7, 9], new MaxPool2D<float>(2, 2)),
            "maxpool-stride1" => new([2, 5, 6], new MaxPool2D<float>(3, 1)),
            "flatten" => new([2, 3, 5], new Flatten<float>()),
            "sigmoid" => new([17], new Sigmoid<float>()),
            "tanh" => new([3, 4], new Tanh<float>()),
            "relu" => new([2, 3, 3], new ReLU<float>()),
            "batchnorm2d" => new([3, 5, 7], WithStatistics(new BatchNorm2d<float>(3, epsilon: 1e-3), 1)),
            "batchnorm2d-noaffine" => new([2, 3, 5], WithStatistics(new BatchNorm2d<float>(2, affine: false), 2)),
            "batchnorm1d" => new([7], WithStatistics(new BatchNorm1d<float>(7), 3)),
            "dropout" => new([3, 5], new Dropout<float>(0.4)),
            "avgpool" => new([3, 7, 9], new AvgPool2D<float>(2)),
            "avgpool-pad-stride" => new([2, 9, 6], new AvgPool2D<float>(3, stride: 2, padding: 1)),
            "globalavgpool" => new([4, 5, 3], new GlobalAvgPool2D<float>()),
            "maxpool-pad" => new([2, 7, 6], new MaxPool2D<float>(3, 2, padding: 1)),
            "conv-same" => new([3, 7, 5], Conv2D<float>.Same(3, 4, 5, random: r)),
            "leakyrelu" => new([3, 5], new LeakyReLU<float>(0.2)),
            "gelu" => new([2, 3, 5], new GELU<float>()),
            _ => new([9], new Softmax<float>()),
        };
        byte[] onnx = OnnxExporter.ToBytes(model);
        foreach (int batch in new[] { 1, 3 })
        {
            int[] shape = [batch, .. model.InputShape];
            float[] x = OrtHelper.RandomInput(shape, seed: 10 + batch, scale: 3f);
            float[] expected = OrtHelper.RunNeuralNet(model, x, shape);
            float[] actual = OrtHelper.Run(onnx, x, shape);
            OrtHelper.ShouldMatch(actual, expected, because: $"({which}, batch {batch})");
        }
    }

    // Running statistics, γ and β far from their initial values, so the exported BatchNormalization really uses them.
    private static BatchNorm<float> WithStatistics(BatchNorm<float> bn, int seed)
    {
        var random = new Random(seed);
        for (int c = 0; c < bn.NumFeatures; c++)
        {
            bn.RunningMean.Data[c] = (float)(random.NextDouble() * 4 - 2);
            bn.RunningVariance.Data[c] = (float)(0.05 + random.NextDouble() * 3);
            if (bn.Affine)
            {
                bn.Weight!.Value.Data[c] = (float)(random.NextDouble() * 2 - 1);
                bn.Bias!.Value.Data[c] = (float)(random.NextDouble() * 2 - 1);
            }
        }
        bn.NumBatchesTracked.Data[0] = 17;
        return bn;
    }

    [Fact]
    public void ModernCnnWithTrainedStatisticsMatchesOnnxRuntime()
    {
        var model = ModelFactory.Build(Preset.Get("modern-cnn"), new RandomGenerator(7));
        int seed = 20;
        foreach (var bn in model.Layers.OfType<BatchNorm<float>>()) WithStatistics(bn, seed++);
        byte[] onnx = OnnxExporter.ToBytes(model);
        var proto = Protos.ModelProto.Parser.ParseFrom(onnx);
        proto.Graph.Node.Select(n => n.OpType).Should().Contain(["BatchNormalization", "Dropout"]);
        proto.Graph.Node.Count(n => n.OpType == "BatchNormalization").Should().Be(4);
        foreach (int batch in new[] { 1, 4 })
        {
            int[] shape = [batch, .. model.InputShape];
            float[] x = OrtHelper.RandomInput(shape, seed: 30 + batch);
            OrtHelper.ShouldMatch(OrtHelper.Run(onnx, x, shape), OrtHelper.RunNeuralNet(model, x, shape), because: $"(modern-cnn, batch {batch})");
        }
    }

    [Fact]
    public void BatchNormExportsPyTorchNamesAndEpsilon()
    {
        var model = new Sequential<float>([3, 4, 4], new Conv2D<float>(3, 2, 1), new BatchNorm2d<float>(2, epsilon: 1e-3));
        var proto = Protos.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model));
        proto.Graph.Initializer.Select(t => t.Name).Should().Equal(
            "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var");
        var bn = proto.Graph.Node.Single(n => n.OpType == "BatchNormalization");
        bn.Attribute.Single(a => a.Name == "epsilon").F.Should().Be(1e-3f);
    }

    [Fact]
    public void NestedSequentialUsesPyTorchNamesAndRuns()
    {
        var r = new RandomGenerator(5);
        var inner = new Sequential<float>([6], new Dense<float>(6, 4, random: r), new Tanh<float>());
        var model = new Sequential<float>([6], inner, new Dense<float>(4, 2, random: r));
        byte[] onnx = OnnxExporter.ToBytes(model);
        var proto = Protos.ModelProto.Parser.ParseFrom(onnx);
        proto.Graph.Initializer.Select(t => t.Name).Should().Equal("0.0.weight", "0.0.bias", "1.weight", "1.bias");
        float[] x = OrtHelper.RandomInput([4, 6], 1);
        OrtHelper.ShouldMatch(OrtHelper.Run(onnx, x, [4, 6]), OrtHelper.RunNeuralNet(model, x, [4, 6]));
    }

    [Fact]
    public void ModelCarriesNamesDynamicBatchOpsetAndMetadata()
    {
        var model = ModelFactory.Build(Preset.Get("lenet"), new RandomGenerator(1));
        byte[] onnx = OnnxExporter.ToBytes(model, new OnnxExportOptions { Metadata = new Dictionary<string, string> { ["trained_on"] = "mnist" } });
        using var session = new InferenceSession(onnx);
        session.InputMetadata.Keys.Should().Equal("input");
        session.OutputMetadata.Keys.Should().Equal("output");
        session.InputMetadata["input"].Dimensions.Should().Equal(-1, 1, 28, 28);
        session.InputMetadata["input"].SymbolicDimensions[0].Should().Be("batch");
        session.OutputMetadata["output"].Dimensions.Should().Equal(-1, 10);
        var meta = session.ModelMetadata;
        meta.ProducerName.Should().Be("NeuralNet");
        meta.Version.Should().Be(1);
        meta.CustomMetadataMap["trained_on"].Should().Be("mnist");
        meta.CustomMetadataMap.Should().ContainKey(OnnxExporter.VersionKey);
        JsonNode.Parse(meta.CustomMetadataMap[OnnxExporter.ArchitectureKey])!["layers"]!.AsArray().Count.Should().Be(model.Layers.Count);
        var proto = Protos.ModelProto.Parser.ParseFrom(onnx);
        proto.OpsetImport.Single().Version.Should().Be(13);
        proto.IrVersion.Should().Be(7);
    }

    [Fact]
    public void UnmappedModuleFailsNamingItsPath()
    {
        var model = new Sequential<float>([4], new Dense<float>(4, 4), new Unmapped());
        var act = () => OnnxExporter.ToBytes(model);
        act.Should().Throw<NotSupportedException>().WithMessage("*module '1' (Unmapped*");
    }

    [Fact]
    public void RegisteredMappingPlugsInANewModule()
    {
        OnnxExportRegistry.Register<Doubler>((_, input, g) =>
            g.AddNode("Mul", [input, g.AddInitializer("two", [2f])]));
        OnnxExportRegistry.IsRegistered(typeof(Doubler)).Should().BeTrue();
        var model = new Sequential<float>([3], new Dense<float>(3, 2), new Doubler());
        float[] x = [1, 2, 3, -1, 0, 4];
        OrtHelper.ShouldMatch(OrtHelper.Run(OnnxExporter.ToBytes(model), x, [2, 3]), OrtHelper.RunNeuralNet(model, x, [2, 3]));
    }

    [Fact]
    public void ExportWritesAFileOnnxRuntimeLoads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nn-export-{Guid.NewGuid():N}.onnx");
        try
        {
            var model = ModelFactory.Build(Preset.Get("mlp"), new RandomGenerator(2));
            OnnxExporter.Export(model, path);
            using var session = new InferenceSession(path);
            session.InputMetadata["input"].Dimensions.Should().Equal(-1, 784);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class Unmapped : Activation<float>
    {
        protected override void Apply(NdArray<float> x, NdArray<float> y) => y.CopyFrom(x);

        protected override void ApplyGradient(NdArray<float> x, NdArray<float> y, NdArray<float> dy, NdArray<float> dx) => dx.CopyFrom(dy);
    }

    private sealed class Doubler : Activation<float>
    {
        protected override void Apply(NdArray<float> x, NdArray<float> y)
        {
            for (int i = 0; i < x.Length; i++) y.Data[i] = 2 * x.Data[i];
        }

        protected override void ApplyGradient(NdArray<float> x, NdArray<float> y, NdArray<float> dy, NdArray<float> dx)
        {
            for (int i = 0; i < x.Length; i++) dx.Data[i] = 2 * dy.Data[i];
        }
    }
}
