using System.Buffers.Binary;
using System.IO.Compression;

namespace NeuralNet.Peers;

/// <summary>Reads the bundled MNIST training files into plain arrays (shared with benchmarks/TorchSharpPeer, which links
/// this file and does not reference NeuralNet).</summary>
internal static class MnistFiles
{
    /// <summary>Reads up to <paramref name="limit"/> training images, scaled to [0, 1], row-major (N, 784), and their labels.</summary>
    public static (float[] Images, int[] Labels) Read(string directory, int limit)
    {
        byte[] imageBytes = ReadGzip(Path.Combine(directory, "train-images-idx3-ubyte.gz"));
        byte[] labelBytes = ReadGzip(Path.Combine(directory, "train-labels-idx1-ubyte.gz"));
        if (imageBytes.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(imageBytes) != 2051
            || BinaryPrimitives.ReadInt32BigEndian(imageBytes.AsSpan(8)) != 28 || BinaryPrimitives.ReadInt32BigEndian(imageBytes.AsSpan(12)) != 28)
            throw new InvalidDataException("train-images-idx3-ubyte.gz: expected an IDX3 header (magic 2051, 28×28 images).");
        if (labelBytes.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(labelBytes) != 2049)
            throw new InvalidDataException("train-labels-idx1-ubyte.gz: expected an IDX1 header (magic 2049).");
        int n = Math.Min(limit, Math.Min(BinaryPrimitives.ReadInt32BigEndian(imageBytes.AsSpan(4)), BinaryPrimitives.ReadInt32BigEndian(labelBytes.AsSpan(4))));
        if (n < 1 || imageBytes.Length < 16 + (long)n * 784 || labelBytes.Length < 8 + n)
            throw new InvalidDataException($"MNIST files in {directory} are truncated.");
        var images = new float[n * 784];
        for (int i = 0; i < images.Length; i++) images[i] = imageBytes[16 + i] / 255f;
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = labelBytes[8 + i];
            if (labels[i] > 9) throw new InvalidDataException($"train-labels-idx1-ubyte.gz: label {labels[i]} at {i} is not a digit.");
        }
        return (images, labels);
    }

    private static byte[] ReadGzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }
}
