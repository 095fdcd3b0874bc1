using NeuralNet.Data;
using NeuralNet.Tests.TestSupport;

namespace NeuralNet.Tests.Data;

/// <summary>Locates the repository and loads the bundled MNIST once for the whole test run.</summary>
public static class MnistFixture
{
    private static readonly Lazy<MnistData> Loaded = new(() => NeuralNet.Data.Mnist.Load(MnistDirectory));

    /// <summary>The folder holding NeuralNet.sln.</summary>
    public static string RepoRoot => RepoPaths.Root;

    /// <summary>data/mnist under the repository root.</summary>
    public static string MnistDirectory => RepoPaths.MnistDirectory;

    /// <summary>The bundled MNIST, loaded on first use and shared (treat it as read-only).</summary>
    public static MnistData Data => Loaded.Value;
}
