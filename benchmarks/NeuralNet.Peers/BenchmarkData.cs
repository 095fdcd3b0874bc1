using NeuralNet.Data;

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
        string kind, string? mnistDirectory, int batch, int[] exampleShape)
    {
        float[] images;
        int[] labels;
        string description;
        if (kind == "mnist")
        {
            (images, labels) = MnistFiles.Read(mnistDirectory ?? Mnist.FindDataDirectory(), Limit);
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

    /// <summary>
    /// The first <paramref name="examples"/> training images (MNIST, or noise as in <see cref="Load"/>) as one (N, …)
    /// array, as a user hands them to <c>Trainer.Fit</c>, with their labels.
    /// </summary>
    public static (NdArray<float> Inputs, int[] Labels, string Description) LoadAll(
        string kind, string? mnistDirectory, int examples, int[] exampleShape)
    {
        var (batches, batchLabels, description) = Load(kind, mnistDirectory, 1, exampleShape);
        int n = Math.Min(examples, batches.Length);
        var data = new float[n * 784];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            batches[i].AsSpan().CopyTo(data.AsSpan(i * 784, 784));
            labels[i] = batchLabels[i][0];
        }
        return (new NdArray<float>(data, [n, .. exampleShape]), labels, $"{description}; the first {n} per epoch");
    }
}
