using MnistSample.Output;

namespace NeuralNet.Samples.Tests;

/// <summary>The run's output files are replaced atomically, never rewritten in place.</summary>
public class OutputFileTests
{
    [Fact]
    public void EveryOutputFileIsReplacedNotRewrittenInPlace()
    {
        // Each name starts as a symbolic link to a file holding "old". An in-place write (truncate, then write) goes
        // through the link and destroys "old" first, which is what a kill or a full disk exposed as a 0-byte or
        // 8192-byte file; an atomic write renames a complete new file over the link and leaves the old target whole.
        using var dir = new TempDir();
        string[] names = ["history.csv", "history.json", "iterations.csv", "metrics.json", "predictions.csv", "report.html"];
        foreach (string name in names)
        {
            string old = Path.Combine(dir.Path, "old-" + name);
            File.WriteAllText(old, "old");
            File.CreateSymbolicLink(Path.Combine(dir.Path, name), old);
        }

        OutputWriter.WriteAll(dir.Path, SyntheticRun.Create());

        foreach (string name in names)
        {
            File.ReadAllText(Path.Combine(dir.Path, "old-" + name)).Should().Be("old", $"{name} must not be rewritten in place");
            var written = new FileInfo(Path.Combine(dir.Path, name));
            written.LinkTarget.Should().BeNull($"{name} is a new file renamed over the old one");
            written.Length.Should().BeGreaterThan(20, $"{name} holds its content");
        }
        Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories).Should().BeEmpty();
    }
}
