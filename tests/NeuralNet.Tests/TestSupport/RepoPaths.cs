namespace NeuralNet.Tests.TestSupport;

/// <summary>Locates files of the repository from the test binaries.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NeuralNet.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException(
            $"NeuralNet.sln not found above {AppContext.BaseDirectory}; tests must run from inside the repository.");
    });

    /// <summary>The repository root: the folder holding NeuralNet.sln.</summary>
    public static string Root => RootLazy.Value;

    /// <summary>The bundled MNIST folder, as the library finds it from the test binaries.</summary>
    public static string MnistDirectory => NeuralNet.Data.Mnist.FindDataDirectory();
}
