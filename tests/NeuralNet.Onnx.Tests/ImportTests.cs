using Google.Protobuf;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Onnx.Protos;
using NeuralNet.Serialization;
using NeuralNet.Training;

namespace NeuralNet.Onnx.Tests;

public class ImportTests
{
    [Theory]
    [InlineData("mlp")]
    [InlineData("lenet")]
    [InlineData("cnn")]
    public void PyTorchExportImportsAndPredictsLikePyTorchAndOnnxRuntime(string name)
    {
        var expected = Fixtures.Load(name);
        string path = Fixtures.Path_($"{name}.onnx");
        var model = OnnxImporter.Load(path);
        float[] ours = OrtHelper.RunNeuralNet(model, expected.Input, expected.InputShape);
        OrtHelper.ShouldMatch(ours, expected.Output, because: "against PyTorch");
        float[] ort = OrtHelper.Run(File.ReadAllBytes(path), expected.Input, expected.InputShape);
        OrtHelper.ShouldMatch(ours, ort, because: "against ONNX Runtime");
        // Batch 1 too (the fixture's batch dimension is dynamic).
        int per = expected.Input.Length / expected.InputShape[0];
        int[] one = [1, .. expected.InputShape[1..]];
        float[] first = expected.Input[..per];
        OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(model, first, one), OrtHelper.Run(File.ReadAllBytes(path), first, one));
    }

    [Fact]
    public void ImportedLeNetDescribesThePyTorchLayers()
    {
        var model = OnnxImporter.Load(Fixtures.Path_("lenet.onnx"));
        model.Layers.Select(l => l.Name).Should().Equal(
            "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "Tanh", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense", "ReLU", "Dense");
        ((Conv2D<float>)model.Layers[0]).Padding.Should().Be(2);
        model.InputShape.Should().Equal(1, 28, 28);
        model.OutputShape.Should().Equal(10);
    }

    [Fact]
    public void ImportedModelFineTunesAndSaves()
    {
        var expected = Fixtures.Load("lenet");
        var model = OnnxImporter.Load(Fixtures.Path_("lenet.onnx"));
        var x = new NdArray<float>(expected.Input, expected.InputShape);
        int[] labels = [3, 1, 4];
        var loss = new SoftmaxCrossEntropyLoss<float>();
        float before = loss.Forward(model.Forward(x), labels);
        var trainer = new Trainer<float>(model, loss, new Sgd<float>(model, learningRate: 0.1), random: new RandomGenerator(1));
        trainer.Fit(x, labels, new TrainerOptions { Epochs = 20, BatchSize = 3 });
        float after = loss.Forward(model.Forward(x), labels);
        after.Should().BeLessThan(before * 0.9f);

        string path = Path.Combine(Path.GetTempPath(), $"nn-import-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelSerializer.Save(model, path);
            var back = ModelSerializer.Load(path);
            OrtHelper.ShouldMatch(back.Forward(x).Data, model.Forward(x).Data, tolerance: 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ExportThenImportRoundTripsEveryPreset()
    {
        foreach (var preset in MnistSample.Preset.All)
        {
            var model = MnistSample.ModelFactory.Build(preset, new RandomGenerator(11));
            var back = OnnxImporter.Import(OnnxExporter.ToBytes(model), preset.Name);
            int[] shape = [2, .. model.InputShape];
            float[] x = OrtHelper.RandomInput(shape, 4);
            OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(back, x, shape), OrtHelper.RunNeuralNet(model, x, shape), tolerance: 0, because: preset.Name);
        }
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void MatMulPlusAddImportsAsDense(bool withAdd, bool biasFirst)
    {
        var g = Graph([1, 6], [2, 4]);
        var w = OrtHelper.RandomInput([6, 4], 1);
        var b = OrtHelper.RandomInput([4], 2);
        g.Initializer.Add(Floats("W", w, 6, 4));
        g.Initializer.Add(Floats("B", b, 4));
        g.Node.Add(Node("MatMul", "mm", ["input", "W"], withAdd ? "h" : "output"));
        if (withAdd) g.Node.Add(Node("Add", "add", biasFirst ? ["B", "h"] : ["h", "B"], "output"));
        byte[] bytes = Model(g).ToByteArray();
        var model = OnnxImporter.Import(bytes);
        model.Layers.Should().ContainSingle().Which.Should().BeOfType<Dense<float>>().Which.HasBias.Should().Be(withAdd);
        float[] x = OrtHelper.RandomInput([3, 6], 3);
        OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(model, x, [3, 6]), OrtHelper.Run(bytes, x, [3, 6]));
    }

    [Fact]
    public void GemmWithoutTransposeConstantNodesReshapeAndIdentityImport()
    {
        var g = Graph([1, 1, 2, 3], [2, 5]);
        var w = OrtHelper.RandomInput([6, 5], 5);
        g.Initializer.Add(Floats("W", w, 6, 5));
        var shape = new TensorProto { Name = "s", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 }, Int64Data = { -1, 6 } };
        g.Node.Add(new NodeProto { Name = "const", OpType = "Constant", Output = { "shape" }, Attribute = { new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = shape } } });
        g.Node.Add(Node("Identity", "id", ["input"], "a"));
        g.Node.Add(Node("Reshape", "flat", ["a", "shape"], "b"));
        g.Node.Add(Node("Gemm", "fc", ["b", "W"], "c"));
        g.Node.Add(Node("Softmax", "sm", ["c"], "output"));
        byte[] bytes = Model(g).ToByteArray();
        var model = OnnxImporter.Import(bytes);
        model.Layers.Select(l => l.Name).Should().Equal("Flatten", "Dense", "Softmax");
        float[] x = OrtHelper.RandomInput([2, 1, 2, 3], 6);
        OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(model, x, [2, 1, 2, 3]), OrtHelper.Run(bytes, x, [2, 1, 2, 3]));
    }

    [Fact]
    public void ImportedPyTorchCnnDescribesThePyTorchLayers()
    {
        // make_fixtures.py's cnn(): Conv2d, BatchNorm2d, LeakyReLU(0.1), MaxPool2d(3, 2, padding 1), Conv2d, BatchNorm2d,
        // ReLU, AvgPool2d(2) (exported as a zero Pad + AveragePool), Dropout (gone in eval export),
        // AdaptiveAvgPool2d(1) + Flatten (GlobalAveragePool + Flatten), Linear, BatchNorm1d.
        var model = OnnxImporter.Load(Fixtures.Path_("cnn.onnx"));
        model.Layers.Select(l => l.Name).Should().Equal(
            "Conv2D", "BatchNorm2d", "LeakyReLU", "MaxPool2D", "Conv2D", "BatchNorm2d", "ReLU", "AvgPool2D", "GlobalAvgPool2D",
            "Dense", "BatchNorm1d");
        ((LeakyReLU<float>)model.Layers[2]).NegativeSlope.Should().Be(0.1f);
        ((MaxPool2D<float>)model.Layers[3]).Padding.Should().Be(1);
        ((AvgPool2D<float>)model.Layers[7]).KernelSize.Should().Be(2);
        var bn = (BatchNorm2d<float>)model.Layers[1];
        bn.Epsilon.Should().Be(1e-5f);
        bn.Momentum.Should().BeApproximately(0.1, 1e-7);
        bn.RunningVariance.Data.Should().NotContain(1f, "the fixture's running statistics come from four training batches");
        model.OutputShape.Should().Equal(5);
    }

    [Fact]
    public void ImportedPyTorchCnnFineTunesAndSaves()
    {
        var expected = Fixtures.Load("cnn");
        var model = OnnxImporter.Load(Fixtures.Path_("cnn.onnx"));
        var x = new NdArray<float>(expected.Input, expected.InputShape);
        int[] labels = [3, 1, 4];
        var loss = new SoftmaxCrossEntropyLoss<float>();
        float before = loss.Forward(model.Forward(x), labels);
        var trainer = new Trainer<float>(model, loss, new Sgd<float>(model, learningRate: 0.05), random: new RandomGenerator(1));
        trainer.Fit(x, labels, new TrainerOptions { Epochs = 20, BatchSize = 3 });
        float after = loss.Forward(model.Forward(x), labels);
        after.Should().BeLessThan(before * 0.9f);
        var bn = (BatchNorm2d<float>)model.Layers[1];
        bn.NumBatchesTracked.Data[0].Should().Be(20, "each training step updates the running statistics");

        string path = Path.Combine(Path.GetTempPath(), $"nn-import-cnn-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelSerializer.Save(model, path);
            var back = ModelSerializer.Load(path);
            OrtHelper.ShouldMatch(back.Forward(x).Data, model.Forward(x).Data, tolerance: 0);
            // And out again as ONNX: ONNX Runtime agrees with the fine-tuned model.
            int[] shape = expected.InputShape;
            OrtHelper.ShouldMatch(OrtHelper.Run(OnnxExporter.ToBytes(model), expected.Input, shape), model.Forward(x).Data.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static TheoryData<string> NewOperators() =>
    [
        "batchnorm2d", "batchnorm1d", "avgpool", "avgpool-pad", "pad-avgpool", "zero-pad", "globalavgpool", "globalavgpool-reshape", "leakyrelu",
        "dropout", "maxpool-pad",
    ];

    [Theory]
    [MemberData(nameof(NewOperators))]
    public void OperatorImportsIntoItsModuleAndMatchesOnnxRuntime(string which)
    {
        GraphProto g;
        string layer;
        switch (which)
        {
            case "batchnorm2d":
            case "batchnorm1d":
            {
                bool image = which == "batchnorm2d";
                int c = image ? 3 : 6;
                g = image ? Graph([1, 3, 5, 7], null) : Graph([1, 6], null);
                g.Initializer.Add(Floats("s", OrtHelper.RandomInput([c], 1), c));
                g.Initializer.Add(Floats("b", OrtHelper.RandomInput([c], 2), c));
                g.Initializer.Add(Floats("m", OrtHelper.RandomInput([c], 3, 2f), c));
                g.Initializer.Add(Floats("v", OrtHelper.RandomInput([c], 4).Select(v => 1.2f + v).ToArray(), c));
                g.Node.Add(Node("BatchNormalization", "bn", ["input", "s", "b", "m", "v"], "output", Float("epsilon", 1e-3f)));
                layer = image ? "BatchNorm2d" : "BatchNorm1d";
                break;
            }
            case "avgpool":
                g = Graph([1, 3, 7, 9], [1, 3, 3, 4]);
                g.Node.Add(Node("AveragePool", "pool", ["input"], "output", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2)));
                layer = "AvgPool2D";
                break;
            case "avgpool-pad":
                g = Graph([1, 2, 9, 6], [1, 2, 5, 3]);
                g.Node.Add(Node("AveragePool", "pool", ["input"], "output", Ints("kernel_shape", 3, 3), Ints("strides", 2, 2),
                    Ints("pads", 1, 1, 1, 1), Int("count_include_pad", 1)));
                layer = "AvgPool2D";
                break;
            case "pad-avgpool":
                g = Graph([1, 2, 5, 4], [1, 2, 5, 4]);
                g.Initializer.Add(new TensorProto { Name = "pads", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 8 }, Int64Data = { 0, 0, 1, 1, 0, 0, 1, 1 } });
                g.Node.Add(Node("Pad", "pad", ["input", "pads"], "padded"));
                g.Node.Add(Node("AveragePool", "pool", ["padded"], "output", Ints("kernel_shape", 3, 3), Ints("strides", 1, 1)));
                layer = "AvgPool2D";
                break;
            case "zero-pad":
                g = Graph([1, 2, 5, 4], [1, 2, 2, 2]);
                g.Initializer.Add(new TensorProto { Name = "pads", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 8 }, Int64Data = { 0, 0, 0, 0, 0, 0, 0, 0 } });
                g.Node.Add(Node("Pad", "pad", ["input", "pads"], "padded"));
                g.Node.Add(Node("MaxPool", "pool", ["padded"], "output", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2)));
                layer = "MaxPool2D";
                break;
            case "globalavgpool":
                g = Graph([1, 4, 5, 3], [1, 4]);
                g.Node.Add(Node("GlobalAveragePool", "gap", ["input"], "pooled"));
                g.Node.Add(Node("Flatten", "flat", ["pooled"], "output", Int("axis", 1)));
                layer = "GlobalAvgPool2D";
                break;
            case "globalavgpool-reshape":
                g = Graph([1, 4, 5, 3], [1, 4]);
                g.Initializer.Add(new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 }, Int64Data = { 0, -1 } });
                g.Node.Add(Node("GlobalAveragePool", "gap", ["input"], "pooled"));
                g.Node.Add(Node("Reshape", "flat", ["pooled", "shape"], "output"));
                layer = "GlobalAvgPool2D";
                break;
            case "leakyrelu":
                g = Graph([1, 3, 5], null);
                g.Node.Add(Node("LeakyRelu", "lr", ["input"], "output", Float("alpha", 0.2f)));
                layer = "LeakyReLU";
                break;
            case "dropout":
                g = Graph([1, 4], null);
                g.Initializer.Add(Floats("ratio", [0.3f]));
                g.Node.Add(Node("Dropout", "drop", ["input", "ratio"], "output"));
                layer = "Dropout";
                break;
            default:
                g = Graph([1, 2, 7, 6], [1, 2, 4, 3]);
                g.Node.Add(Node("MaxPool", "pool", ["input"], "output", Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1)));
                layer = "MaxPool2D";
                break;
        }
        byte[] bytes = Model(g).ToByteArray();
        var model = OnnxImporter.Import(bytes, which);
        model.Layers.Select(l => l.Name).Should().Equal(layer);
        if (which == "dropout") ((Dropout<float>)model.Layers[0]).P.Should().Be(0.3f);
        if (which == "leakyrelu") ((LeakyReLU<float>)model.Layers[0]).NegativeSlope.Should().Be(0.2f);
        if (which is "pad-avgpool" or "avgpool-pad") ((AvgPool2D<float>)model.Layers[0]).Padding.Should().Be(1);
        if (which == "maxpool-pad") ((MaxPool2D<float>)model.Layers[0]).Padding.Should().Be(1);
        foreach (int batch in new[] { 1, 3 })
        {
            int[] shape = [batch, .. model.InputShape];
            float[] x = OrtHelper.RandomInput(shape, 40 + batch, scale: 3f);
            OrtHelper.ShouldMatch(OrtHelper.RunNeuralNet(model, x, shape), OrtHelper.Run(bytes, x, shape), because: $"({which}, batch {batch})");
        }
        OnnxImportRegistry.SupportedOperators.Should().Contain(g.Node.Select(n => n.OpType));
    }

    // ---- hostile and unsupported input ----

    public static TheoryData<string> HostileCases() =>
    [
        "unknown-op", "two-branches", "two-data-inputs", "dangling-node", "attr-out-of-range", "conv-group",
        "huge-dims", "huge-input-dims", "external-data", "truncated", "garbage", "empty", "no-graph", "wrong-dtype",
        "short-raw-data", "symbolic-feature-dim", "custom-domain", "negative-dim", "gemm-alpha", "maxpool-ceil",
        "softmax-axis", "reshape-unsupported", "avgpool-exclude-pad", "dropout-training", "batchnorm-shape",
        "batchnorm-training", "pad-alone", "maxpool-pad-too-wide",
    ];

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void HostileOrUnsupportedFilesFailFastNamingTheProblem(string which)
    {
        byte[] bytes = Hostile(which, out string expectNode, out string expectText);
        // Once untimed, so JIT compilation does not count; the figures below are for the import itself.
        Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(bytes, "hostile.onnx"));
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(bytes, "hostile.onnx"));
        watch.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        e.Message.Should().Contain("hostile.onnx").And.Contain(expectText);
        if (expectNode.Length > 0)
        {
            e.NodeName.Should().Be(expectNode);
            e.Message.Should().Contain($"'{expectNode}'");
        }
        watch.ElapsedMilliseconds.Should().BeLessThan(500);
        // Nothing beyond a few copies of the (small) file plus bookkeeping, whatever the header claims.
        allocated.Should().BeLessThan(4L * bytes.Length + 2_000_000);
    }

    private static byte[] Hostile(string which, out string node, out string text)
    {
        node = "";
        var g = Graph([1, 4], [1, 3]);
        g.Initializer.Add(Floats("W", OrtHelper.RandomInput([3, 4], 1), 3, 4));
        var m = Model(g);
        switch (which)
        {
            case "unknown-op":
                g.Node.Add(Node("Einsum", "weird", ["input"], "output"));
                (node, text) = ("weird", "unknown operator 'Einsum'");
                break;
            case "two-branches":
                g.Node.Add(Node("Relu", "a", ["input"], "x"));
                g.Node.Add(Node("Sigmoid", "b", ["input"], "y"));
                g.Node.Add(Node("Gemm", "fc", ["x", "W"], "output"));
                (node, text) = ("b", "not a chain");
                break;
            case "two-data-inputs":
                g.Node.Add(Node("Relu", "a", ["input"], "x"));
                g.Node.Add(Node("Add", "sum", ["x", "input"], "output"));
                (node, text) = ("sum", "2 non-constant inputs");
                break;
            case "dangling-node":
                g.Node.Add(Node("Gemm", "fc", ["input", "W"], "output", Int("transB", 1)));
                g.Node.Add(Node("Relu", "orphan", ["nowhere"], "z"));
                (node, text) = ("orphan", "not on the chain");
                break;
            case "attr-out-of-range":
                g.Node.Add(Node("Gemm", "fc", ["input", "W"], "output", Int("transB", 7)));
                (node, text) = ("fc", "transB = 7 is out of range");
                break;
            case "conv-group":
                g = Graph([1, 2, 5, 5], [1, 2, 3, 3]);
                m = Model(g);
                g.Initializer.Add(Floats("K", new float[2 * 1 * 3 * 3], 2, 1, 3, 3));
                g.Node.Add(Node("Conv", "conv", ["input", "K"], "output", Int("group", 2)));
                (node, text) = ("conv", "group = 2");
                break;
            case "huge-dims":
            {
                var t = new TensorProto { Name = "W2", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1_000_000, 1_000_000 }, RawData = ByteString.CopyFrom(new byte[16]) };
                g.Initializer.Add(t);
                g.Node.Add(Node("Gemm", "fc", ["input", "W2"], "output"));
                (node, text) = ("fc", "holds 4");
                break;
            }
            case "huge-input-dims":
                g = Graph([1, 1_000_000, 1_000_000], [1, 3]);
                m = Model(g);
                g.Node.Add(Node("Relu", "r", ["input"], "output"));
                text = "claims more than";
                break;
            case "external-data":
            {
                var t = new TensorProto { Name = "W3", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3, 4 }, DataLocation = TensorProto.Types.DataLocation.External };
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "/etc/passwd" });
                g.Initializer.Add(t);
                g.Node.Add(Node("Gemm", "fc", ["input", "W3"], "output", Int("transB", 1)));
                (node, text) = ("fc", "external data is not supported");
                break;
            }
            case "truncated":
            {
                byte[] full = File.ReadAllBytes(Fixtures.Path_("lenet.onnx"));
                text = "malformed or truncated";
                return full[..(full.Length / 2)];
            }
            case "garbage":
            {
                var bytes = new byte[4096];
                new Random(1).NextBytes(bytes);
                text = "not an ONNX model";
                return bytes;
            }
            case "empty":
                text = "not an ONNX model";
                return [];
            case "no-graph":
                text = "no graph";
                return new ModelProto { IrVersion = 7 }.ToByteArray();
            case "wrong-dtype":
            {
                var t = new TensorProto { Name = "W4", DataType = (int)TensorProto.Types.DataType.Double, Dims = { 3, 4 }, DoubleData = { new double[12] } };
                g.Initializer.Add(t);
                g.Node.Add(Node("Gemm", "fc", ["input", "W4"], "output", Int("transB", 1)));
                (node, text) = ("fc", "data type Double");
                break;
            }
            case "short-raw-data":
            {
                var t = new TensorProto { Name = "W5", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3, 4 }, RawData = ByteString.CopyFrom(new byte[44]) };
                g.Initializer.Add(t);
                g.Node.Add(Node("Gemm", "fc", ["input", "W5"], "output", Int("transB", 1)));
                (node, text) = ("fc", "holds 11");
                break;
            }
            case "symbolic-feature-dim":
                g.Input[0].Type.TensorType.Shape.Dim[1] = new TensorShapeProto.Types.Dimension { DimParam = "features" };
                g.Node.Add(Node("Relu", "r", ["input"], "output"));
                text = "symbolic";
                break;
            case "custom-domain":
                g.Node.Add(new NodeProto { Name = "ms", OpType = "FusedGemm", Domain = "com.microsoft", Input = { "input", "W" }, Output = { "output" } });
                (node, text) = ("ms", "domain 'com.microsoft'");
                break;
            case "negative-dim":
            {
                var t = new TensorProto { Name = "W6", DataType = (int)TensorProto.Types.DataType.Float, Dims = { -3, 4 }, FloatData = { new float[12] } };
                g.Initializer.Add(t);
                g.Node.Add(Node("Gemm", "fc", ["input", "W6"], "output", Int("transB", 1)));
                (node, text) = ("fc", "dimension 0 = -3");
                break;
            }
            case "gemm-alpha":
                g.Node.Add(Node("Gemm", "fc", ["input", "W"], "output", Int("transB", 1), new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = 2 }));
                (node, text) = ("fc", "alpha = 2");
                break;
            case "maxpool-ceil":
                g = Graph([1, 1, 5, 5], [1, 1, 3, 3]);
                m = Model(g);
                g.Node.Add(Node("MaxPool", "pool", ["input"], "output", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Int("ceil_mode", 1)));
                (node, text) = ("pool", "ceil_mode = 1");
                break;
            case "softmax-axis":
                g = Graph([1, 3, 4], [1, 3, 4]);
                m = Model(g);
                g.Node.Add(Node("Softmax", "sm", ["input"], "output", Int("axis", 1)));
                (node, text) = ("sm", "axis = 1");
                break;
            case "reshape-unsupported":
                g.Initializer.Add(new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 }, Int64Data = { -1, 2, 2 } });
                g.Node.Add(Node("Reshape", "rs", ["input", "shape"], "output"));
                (node, text) = ("rs", "target shape [-1, 2, 2]");
                break;
            case "avgpool-exclude-pad":
                g = Graph([1, 1, 5, 5], [1, 1, 3, 3]);
                m = Model(g);
                g.Node.Add(Node("AveragePool", "pool", ["input"], "output", Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1)));
                (node, text) = ("pool", "count_include_pad = 0");
                break;
            case "dropout-training":
                g.Initializer.Add(Floats("ratio", [0.5f]));
                g.Initializer.Add(new TensorProto { Name = "mode", DataType = (int)TensorProto.Types.DataType.Bool, Int32Data = { 1 } });
                g.Node.Add(Node("Dropout", "drop", ["input", "ratio", "mode"], "output"));
                (node, text) = ("drop", "training_mode");
                break;
            case "batchnorm-shape":
                g.Initializer.Add(Floats("c3", new float[3], 3));
                g.Node.Add(Node("BatchNormalization", "bn", ["input", "c3", "c3", "c3", "c3"], "output"));
                (node, text) = ("bn", "expected (4) for 4 channels");
                break;
            case "batchnorm-training":
                g.Initializer.Add(Floats("c4", new float[4], 4));
                g.Node.Add(Node("BatchNormalization", "bn", ["input", "c4", "c4", "c4", "c4"], "output", Int("training_mode", 1)));
                (node, text) = ("bn", "training_mode = 1");
                break;
            case "pad-alone":
                g = Graph([1, 1, 5, 5], [1, 1, 7, 7]);
                m = Model(g);
                g.Initializer.Add(new TensorProto { Name = "pads", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 8 }, Int64Data = { 0, 0, 1, 1, 0, 0, 1, 1 } });
                g.Node.Add(Node("Pad", "pad", ["input", "pads"], "output"));
                (node, text) = ("pad", "only before an AveragePool");
                break;
            case "maxpool-pad-too-wide":
                g = Graph([1, 1, 5, 5], [1, 1, 4, 4]);
                m = Model(g);
                g.Node.Add(Node("MaxPool", "pool", ["input"], "output", Ints("kernel_shape", 3, 3), Ints("pads", 2, 2, 2, 2)));
                (node, text) = ("pool", "pads = [2, 2, 2, 2] is out of range");
                break;
            default:
                throw new ArgumentException(which);
        }
        return m.ToByteArray();
    }

    // ---- building graphs ----

    private static GraphProto Graph(int[] inputShape, int[]? outputShape)
    {
        var g = new GraphProto { Name = "test" };
        g.Input.Add(Value("input", inputShape));
        g.Output.Add(Value("output", outputShape ?? inputShape));
        return g;
    }

    private static ModelProto Model(GraphProto g)
    {
        var m = new ModelProto { IrVersion = 7, ProducerName = "tests", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    private static ValueInfoProto Value(string name, int[] shape)
    {
        var s = new TensorShapeProto();
        s.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (int d in shape[1..]) s.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = s } } };
    }

    private static TensorProto Floats(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name, Output = { output } };
        n.Input.AddRange(inputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    private static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

    private static AttributeProto Ints(string name, params long[] v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { v } };
}
