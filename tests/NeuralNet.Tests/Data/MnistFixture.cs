using NeuralNet.Data;

namespace NeuralNet.Tests.Data;

/// <summary>Locates the repository and loads the bundled MNIST once for the whole test run.</summary>
public static class MnistFixture
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NeuralNet.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No NeuralNet.sln above {AppContext.BaseDirectory}.");
    });

    private static readonly Lazy<MnistData> Loaded = new(() => NeuralNet.Data.Mnist.Load(MnistDirectory));

    /// <summary>The folder holding NeuralNet.sln.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>data/mnist under the repository root.</summary>
    public static string MnistDirectory => Path.Combine(RepoRoot, "data", "mnist");

    /// <summary>The bundled MNIST, loaded on first use and shared (treat it as read-only).</summary>
    public static MnistData Data => Loaded.Value;
}
