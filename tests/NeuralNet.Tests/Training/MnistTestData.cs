using System.IO.Compression;

namespace NeuralNet.Tests.Training;

/// <summary>A minimal private reader of the bundled gzipped MNIST IDX files for the training tests (pixels scaled to [0, 1]).</summary>
internal static class MnistTestData
{
    private static readonly Lazy<(float[] Images, int[] Labels)> s_train = new(() => Load("train"));
    private static readonly Lazy<(float[] Images, int[] Labels)> s_test = new(() => Load("t10k"));

    public static (float[] Images, int[] Labels) Train => s_train.Value;

    public static (float[] Images, int[] Labels) Test => s_test.Value;

    /// <summary>The first <paramref name="count"/> training images as (count, 784) and their labels.</summary>
    public static (Tensor<float> X, int[] Y) TrainSubset(int count, int skip = 0)
    {
        var (images, labels) = Train;
        var x = new float[count * 784];
        Array.Copy(images, skip * 784, x, 0, x.Length);
        return (new Tensor<float>(x, count, 784), labels[skip..(skip + count)]);
    }

    private static (float[] Images, int[] Labels) Load(string prefix)
    {
        string dir = FindDataDirectory();
        byte[] imageBytes = ReadGz(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"));
        byte[] labelBytes = ReadGz(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"));
        if (BigEndian(imageBytes, 0) != 2051 || BigEndian(labelBytes, 0) != 2049) throw new InvalidDataException("MNIST test data: bad magic number.");
        int n = BigEndian(imageBytes, 4);
        if (BigEndian(labelBytes, 4) != n || imageBytes.Length != 16 + n * 784 || labelBytes.Length != 8 + n)
            throw new InvalidDataException("MNIST test data: inconsistent sizes.");
        var images = new float[n * 784];
        for (int i = 0; i < images.Length; i++) images[i] = imageBytes[16 + i] / 255f;
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = labelBytes[8 + i];
        return (images, labels);
    }

    private static int BigEndian(byte[] b, int o) => (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];

    private static byte[] ReadGz(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
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
