using System.Buffers.Binary;
using System.IO.Compression;

namespace NeuralNet.Peers;

/// <summary>The training batches: MNIST (the bundled IDX files) or uniform noise of MNIST shape, cut into batches once.</summary>
internal static class BenchmarkData
{
    private const int Limit = 60000;

    /// <summary>
    /// Loads up to 60000 training images scaled to [0, 1] and cuts them into consecutive batches of
    /// <paramref name="batch"/> (a trailing partial batch is dropped, as in peers.py). Each batch tensor wraps its own
    /// array, so a training step reads its input without a copy, like the NumPy and PyTorch slices.
    /// </summary>
    public static (NdArray<float>[] Inputs, int[][] Labels, string Description) Load(
        string kind, string mnistDirectory, int batch, int[] exampleShape)
    {
        float[] images;
        int[] labels;
        string description;
        if (kind == "mnist")
        {
            (images, labels) = ReadMnist(mnistDirectory);
            description = $"MNIST train, first {labels.Length} images, scaled to [0,1]";
        }
        else
        {
            var random = new RandomGenerator(1234);
            images = new float[Limit * 784];
            labels = new int[Limit];
            for (int i = 0; i < images.Length; i++) images[i] = (float)random.NextDouble();
            for (int i = 0; i < labels.Length; i++) labels[i] = random.NextInt(10);
            description = $"random uniform [0,1) data of MNIST shape, {Limit} images";
        }

        int count = labels.Length / batch;
        var inputs = new NdArray<float>[count];
        var batchLabels = new int[count][];
        int[] shape = [batch, .. exampleShape];
        for (int b = 0; b < count; b++)
        {
            var data = images.AsSpan(b * batch * 784, batch * 784).ToArray();
            inputs[b] = new NdArray<float>(data, shape);
            batchLabels[b] = labels.AsSpan(b * batch, batch).ToArray();
        }
        return (inputs, batchLabels, description);
    }

    private static (float[] Images, int[] Labels) ReadMnist(string directory)
    {
        byte[] imageBytes = ReadGzip(Path.Combine(directory, "train-images-idx3-ubyte.gz"));
        byte[] labelBytes = ReadGzip(Path.Combine(directory, "train-labels-idx1-ubyte.gz"));
        if (imageBytes.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(imageBytes) != 2051
            || BinaryPrimitives.ReadInt32BigEndian(imageBytes.AsSpan(8)) != 28 || BinaryPrimitives.ReadInt32BigEndian(imageBytes.AsSpan(12)) != 28)
            throw new InvalidDataException("train-images-idx3-ubyte.gz: expected an IDX3 header (magic 2051, 28×28 images).");
        if (labelBytes.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(labelBytes) != 2049)
            throw new InvalidDataException("train-labels-idx1-ubyte.gz: expected an IDX1 header (magic 2049).");
        int n = Math.Min(Limit, Math.Min(BinaryPrimitives.ReadInt32BigEndian(imageBytes.AsSpan(4)), BinaryPrimitives.ReadInt32BigEndian(labelBytes.AsSpan(4))));
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
