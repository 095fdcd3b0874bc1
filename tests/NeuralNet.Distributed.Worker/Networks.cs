using NeuralNet.Initialization;
using NeuralNet.Models;
using NeuralNet.Modules;

namespace NeuralNet.Distributed.Worker;

/// <summary>The worker's names for the library's <see cref="ReferenceNetworks"/>, built with a seeded generator.</summary>
internal static class Networks
{
    public static readonly string[] Names = ["mlp", "deep-mlp", "lenet", "small-cnn", "modern-cnn"];

    public static string Title(string name) => name switch
    {
        "mlp" => "mlp 784-64-10",
        "deep-mlp" => "deep-mlp 784-400-100-25-10",
        "lenet" => "lenet-5",
        "small-cnn" => "small-cnn",
        "modern-cnn" => "modern-cnn 24-48-96-128",
        _ => throw new ArgumentException($"Worker: unknown network '{name}'."),
    };

    /// <summary>The library's reference network with logits out and the layers' default initialization (Xavier uniform).</summary>
    public static Sequential<float> Build(string name, RandomGenerator random) => name switch
    {
        "mlp" => ReferenceNetworks.Mlp<float>(random, initializer: Initializer.Default),
        "deep-mlp" => ReferenceNetworks.DeepMlp<float>(random, initializer: Initializer.Default),
        "lenet" => ReferenceNetworks.LeNet5<float>(random, initializer: Initializer.Default),
        "small-cnn" => ReferenceNetworks.SmallCnn<float>(random, filterStandardDeviation: null),
        "modern-cnn" => ReferenceNetworks.ModernCnn<float>(random),
        _ => throw new ArgumentException($"Worker: unknown network '{name}'."),
    };

    /// <summary>The library's modern CNN with the given widths, for any element type.</summary>
    public static Sequential<T> ModernCnn<T>(RandomGenerator random, int c1, int c2, int c3, int dense)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => ReferenceNetworks.ModernCnn<T>(random, c1, c2, c3, dense);
}
