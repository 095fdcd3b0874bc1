using MnistSample;
using NeuralNet.Data;

namespace NeuralNet.Samples.Tests;

/// <summary>
/// The first 2,000 training and 2,000 test images of the bundled MNIST as CSV files, written once per test run, so the
/// smoke runs parse a few hundred rows instead of decompressing all 70,000 images each time.
/// </summary>
internal static class SmallMnist
{
    private static readonly Lazy<(string Train, string Test)> Files = new(Create);

    public static string TrainCsv => Files.Value.Train;

    public static string TestCsv => Files.Value.Test;

    /// <summary>The --csv arguments for the small files.</summary>
    public static string[] CsvArgs => ["--csv", TrainCsv, TestCsv];

    private static (string, string) Create()
    {
        string dir = Path.Combine(Path.GetTempPath(), "nn-samples-mnist-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        var data = NeuralNet.Data.Mnist.Load(NeuralNet.Data.Mnist.FindDataDirectory());
        string train = Path.Combine(dir, "train.csv"), test = Path.Combine(dir, "test.csv");
        CsvDataset.Write(train, data.Train.Take(2000));
        CsvDataset.Write(test, data.Test.Take(2000));
        return (train, test);
    }
}
