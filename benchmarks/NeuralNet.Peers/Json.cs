using System.Text.Json;

namespace NeuralNet.Peers;

/// <summary>JSON-lines output for the driver.</summary>
internal static class Json
{
    public static void Emit(Dictionary<string, object?> record)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(record));
        Console.Out.Flush();
    }

    /// <summary>The median; the mean of the middle two for an even count, as Python's statistics.median.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
}
