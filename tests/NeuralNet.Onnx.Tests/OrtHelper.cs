using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NeuralNet.Modules;

namespace NeuralNet.Onnx.Tests;

/// <summary>Runs ONNX models in ONNX Runtime and compares outputs.</summary>
internal static class OrtHelper
{
    public static float[] Run(byte[] model, float[] input, int[] shape, string inputName = "input")
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(model, options);
        var tensor = new DenseTensor<float>(input, shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    public static float[] RunNeuralNet(Sequential<float> model, float[] input, int[] shape)
        => model.Forward(new NdArray<float>((float[])input.Clone(), shape)).Data.ToArray();

    public static float[] RandomInput(int[] shape, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        long count = 1;
        foreach (int d in shape) count *= d;
        var data = new float[count];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return data;
    }

    /// <summary>Asserts |a - e| ≤ 1e-5 · max(1, |e|) element-wise (float32 relative tolerance with an absolute floor near 0).</summary>
    public static void ShouldMatch(float[] actual, float[] expected, double tolerance = 1e-5, string because = "")
    {
        actual.Length.Should().Be(expected.Length, because);
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double err = Math.Abs(actual[i] - (double)expected[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            if (!(err <= worst)) { worst = err; worstAt = i; }
        }
        worst.Should().BeLessThanOrEqualTo(tolerance,
            $"element {worstAt} is {(worstAt >= 0 ? actual[worstAt] : 0)} vs {(worstAt >= 0 ? expected[worstAt] : 0)} {because}");
    }
}
