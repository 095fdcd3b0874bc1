using System.Text.Json;

namespace NeuralNet.Onnx.Tests;

/// <summary>The PyTorch fixtures made by Fixtures/pytorch/make_fixtures.py.</summary>
internal static class Fixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch");

    public static string Path_(string file) => Path.Combine(Dir, file);

    public sealed record Expected(int[] InputShape, float[] Input, int[] OutputShape, float[] Output);

    public static Expected Load(string model)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path_("expected.json")));
        var e = doc.RootElement.GetProperty(model);
        return new Expected(
            e.GetProperty("input_shape").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            e.GetProperty("input").EnumerateArray().Select(x => x.GetSingle()).ToArray(),
            e.GetProperty("output_shape").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            e.GetProperty("output").EnumerateArray().Select(x => x.GetSingle()).ToArray());
    }
}
