using NeuralNet.Data;

namespace NeuralNet.Tests.Training;

/// <summary>The bundled MNIST (data/mnist), loaded once per test run with the library's <see cref="Mnist"/> reader.</summary>
internal static class MnistTestData
{
    private static readonly Lazy<MnistData> s_data = new(() => Mnist.Load(FindDataDirectory()));

    public static Dataset TrainSet => s_data.Value.Train;

    public static Dataset TestSet => s_data.Value.Test;

    /// <summary><paramref name="count"/> training images from <paramref name="skip"/> on, as (count, 784), with their labels.</summary>
    public static (Tensor<float> X, int[] Y) TrainSubset(int count, int skip = 0)
    {
        var d = TrainSet.Slice(skip, count);
        return (d.Features, d.Labels);
    }

    private static string FindDataDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "data", "mnist");
            if (File.Exists(Path.Combine(candidate, "train-images-idx3-ubyte.gz"))) return candidate;
        }
        throw new DirectoryNotFoundException("MNIST test data: data/mnist not found above " + AppContext.BaseDirectory);
    }
}
