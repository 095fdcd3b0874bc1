using System.Text.Json;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Tests.TestSupport;

namespace NeuralNet.Tests.Modules;

/// <summary>
/// The new layers against PyTorch 1.13 in float64: outputs, input gradients (vector-Jacobian products with a fixed r),
/// parameter gradients and running statistics from Fixtures/layers/layers.json, made by Fixtures/layers/make_layers.py.
/// </summary>
public class LayerParityTests
{
    private const double Tolerance = 1e-10;

    private static readonly Lazy<Dictionary<string, JsonElement>> Cases = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "NeuralNet.Tests", "Fixtures", "layers", "layers.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.Clone());
    });

    private static double[] Values(JsonElement c, string key) => c.GetProperty(key).EnumerateArray().Select(v => v.GetDouble()).ToArray();

    private static int[] Shape(JsonElement c, string key) => c.GetProperty(key).EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static double[] Param(JsonElement c, string name, string what) => Values(c.GetProperty("params").GetProperty(name), what);

    /// <summary>Runs forward (in the given mode) and backward with r; checks output and input gradient.</summary>
    private static void CheckForwardBackward(Module<double> module, JsonElement c, bool training)
    {
        var x = new NdArray<double>(Values(c, "input"), Shape(c, "input_shape"));
        module.ZeroGrad();
        var y = module.Forward(x, training);
        y.ShapeArray().Should().Equal(Shape(c, "output_shape"));
        AssertClose(y.Data, Values(c, "output"), "output");
        var dx = module.Backward(new NdArray<double>(Values(c, "r"), Shape(c, "output_shape")));
        AssertClose(dx!.Data, Values(c, "input_grad"), "input gradient");
    }

    private static void AssertClose(ReadOnlySpan<double> actual, double[] expected, string what)
    {
        actual.Length.Should().Be(expected.Length, what);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / Math.Max(1, Math.Abs(expected[i])));
        worst.Should().BeLessThan(Tolerance, $"{what}: largest difference from PyTorch");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm2d_Training_MatchesPyTorch(bool affine)
    {
        var c = Cases.Value[$"bn2d_train_affine_{affine}"];
        var bn = new BatchNorm2d<double>(3, affine: affine);
        if (affine)
        {
            Values(c, "weight0").CopyTo(bn.Weight!.Value.Data, 0);
            Values(c, "bias0").CopyTo(bn.Bias!.Value.Data, 0);
        }
        bn.Forward(new NdArray<double>(Values(c, "first_input"), Shape(c, "input_shape")), training: true);
        CheckForwardBackward(bn, c, training: true);
        AssertClose(bn.RunningMean.Data, Values(c, "running_mean"), "running mean");
        AssertClose(bn.RunningVariance.Data, Values(c, "running_var"), "running variance (unbiased)");
        bn.NumBatchesTracked.Data[0].Should().Be(c.GetProperty("num_batches_tracked").GetInt32());
        if (affine)
        {
            AssertClose(bn.Weight!.Gradient.Data, Param(c, "weight", "grad"), "dγ");
            AssertClose(bn.Bias!.Gradient.Data, Param(c, "bias", "grad"), "dβ");
        }
        else
        {
            bn.Parameters.Should().BeEmpty();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm2d_Evaluation_UsesRunningStatistics(bool affine)
    {
        var c = Cases.Value[$"bn2d_eval_affine_{affine}"];
        var bn = new BatchNorm2d<double>(3, affine: affine);
        if (affine)
        {
            Values(c, "weight0").CopyTo(bn.Weight!.Value.Data, 0);
            Values(c, "bias0").CopyTo(bn.Bias!.Value.Data, 0);
        }
        Values(c, "running_mean").CopyTo(bn.RunningMean.Data, 0);
        Values(c, "running_var").CopyTo(bn.RunningVariance.Data, 0);
        CheckForwardBackward(bn, c, training: false);
        if (affine)
        {
            AssertClose(bn.Weight!.Gradient.Data, Param(c, "weight", "grad"), "dγ");
            AssertClose(bn.Bias!.Gradient.Data, Param(c, "bias", "grad"), "dβ");
        }
        bn.NumBatchesTracked.Data[0].Should().Be(0, "evaluation does not count batches");
    }

    [Fact]
    public void BatchNorm1d_TrainingAndEvaluation_MatchPyTorch()
    {
        var train = Cases.Value["bn1d_train"];
        var bn = new BatchNorm1d<double>(7, epsilon: 1e-3, momentum: 0.2);
        Values(train, "weight0").CopyTo(bn.Weight!.Value.Data, 0);
        Values(train, "bias0").CopyTo(bn.Bias!.Value.Data, 0);
        CheckForwardBackward(bn, train, training: true);
        AssertClose(bn.Weight.Gradient.Data, Param(train, "weight", "grad"), "dγ");
        AssertClose(bn.Bias.Gradient.Data, Param(train, "bias", "grad"), "dβ");
        AssertClose(bn.RunningMean.Data, Values(train, "running_mean"), "running mean");
        AssertClose(bn.RunningVariance.Data, Values(train, "running_var"), "running variance");

        var eval = Cases.Value["bn1d_eval"];
        CheckForwardBackward(bn, eval, training: false);
        AssertClose(bn.Weight.Gradient.Data, Param(eval, "weight", "grad"), "dγ (evaluation)");
    }

    [Theory]
    [InlineData("avgpool_k3_s2_p1")]
    [InlineData("avgpool_k2_s2_p0")]
    public void AvgPool2D_MatchesPyTorch(string name)
    {
        var c = Cases.Value[name];
        var pool = new AvgPool2D<double>(c.GetProperty("kernel").GetInt32(), c.GetProperty("stride").GetInt32(), c.GetProperty("padding").GetInt32());
        CheckForwardBackward(pool, c, training: true);
    }

    [Fact]
    public void MaxPool2D_WithPadding_MatchesPyTorch()
    {
        var c = Cases.Value["maxpool_k3_s2_p1"];
        CheckForwardBackward(new MaxPool2D<double>(3, 2, padding: 1), c, training: true);
    }

    [Fact]
    public void GlobalAvgPool2D_MatchesPyTorch() =>
        CheckForwardBackward(new GlobalAvgPool2D<double>(), Cases.Value["globalavgpool"], training: true);

    [Theory]
    [InlineData("conv_same_k3_nonsquare", true)]
    [InlineData("conv_same_k5_nonsquare", false)]
    public void Conv2D_Same_OnNonSquareInput_MatchesPyTorch(string name, bool bias)
    {
        var c = Cases.Value[name];
        var weight = Param(c, "weight", "value");
        int k = c.GetProperty("kernel").GetInt32(), inC = Shape(c, "input_shape")[1], outC = Shape(c, "output_shape")[1];
        var conv = Conv2D<double>.Same(inC, outC, k, bias);
        conv.Padding.Should().Be((k - 1) / 2);
        weight.CopyTo(conv.Weight.Value.Data, 0);
        if (bias) Param(c, "bias", "value").CopyTo(conv.Bias!.Value.Data, 0);
        CheckForwardBackward(conv, c, training: true);
        Shape(c, "output_shape")[2..].Should().Equal(Shape(c, "input_shape")[2..], "'same' keeps H and W");
        AssertClose(conv.Weight.Gradient.Data, Param(c, "weight", "grad"), "dW");
        if (bias) AssertClose(conv.Bias!.Gradient.Data, Param(c, "bias", "grad"), "db");
    }

    [Theory]
    [InlineData("leakyrelu_default")]
    [InlineData("leakyrelu_0.2")]
    public void LeakyReLU_MatchesPyTorch(string name)
    {
        var c = Cases.Value[name];
        double slope = c.GetProperty("negative_slope").GetDouble();
        var module = slope == 0.01 ? new LeakyReLU<double>() : new LeakyReLU<double>(slope);
        module.NegativeSlope.Should().Be(slope);
        CheckForwardBackward(module, c, training: true);
    }

    [Fact]
    public void GELU_Tanh_MatchesPyTorch() => CheckForwardBackward(new GELU<double>(), Cases.Value["gelu_tanh"], training: true);
}
