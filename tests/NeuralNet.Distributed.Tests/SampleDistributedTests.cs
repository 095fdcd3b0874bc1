using System.Diagnostics;
using System.Text.Json;

namespace NeuralNet.Distributed.Tests;

/// <summary>
/// The MNIST sample's <c>--distributed</c> mode under real mpirun: MPI can be initialized only once per process, so the
/// sample itself is launched, as a user would.
/// </summary>
[Collection("mpirun")]
public sealed class SampleDistributedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nn-sample-mpi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [MpiFact]
    public void TwoRanks_TrainLikeOneProcessWithTheSameGlobalBatch_AndOnlyRankZeroReports()
    {
        string[] common = ["--preset", "mlp", "--distributed", "--json", "--no-report", "--epochs", "2", "--subset", "2000", "--batch-size", "200"];
        string twoOut = Path.Combine(_dir, "two"), oneOut = Path.Combine(_dir, "one");
        var run = MpiLauncher.Run(2, [.. common, "--output", twoOut], TimeSpan.FromSeconds(120), program: MpiLauncher.SamplePath);
        run.ExitCode.Should().Be(0, run.ToString());
        var jsonLines = JsonLines(run.Output);
        jsonLines.Should().HaveCount(1, $"rank 0 alone reports:\n{run.Output}");
        foreach (string file in new[] { "metrics.json", "history.csv", "model.safetensors", "checkpoint.safetensors", "predictions.csv" })
            File.Exists(Path.Combine(twoOut, file)).Should().BeTrue($"rank 0 writes {file}");

        // The same global batches on one rank, without mpirun (a single process is a world of one).
        var single = RunSingle([.. common, "--output", oneOut]);
        var two = JsonDocument.Parse(jsonLines[0]).RootElement;
        var one = JsonDocument.Parse(single).RootElement;
        two.GetProperty("epochs").GetInt32().Should().Be(2);
        // Gradients are summed over the ranks in another order than over one batch: equal to float rounding, not bit for bit.
        double lossTwo = two.GetProperty("finalLoss").GetDouble(), lossOne = one.GetProperty("finalLoss").GetDouble();
        Math.Abs(lossTwo - lossOne).Should().BeLessThan(1e-4 * Math.Abs(lossOne), $"final loss {lossTwo} on 2 ranks, {lossOne} on one");
        two.GetProperty("testAccuracy").GetDouble().Should().BeApproximately(one.GetProperty("testAccuracy").GetDouble(), 0.002);
        one.GetProperty("testAccuracy").GetDouble().Should().BeGreaterThan(0.6, "two epochs on 2,000 images learn something");
    }

    private static List<string> JsonLines(string output) =>
        output.Split('\n').Select(l => l.Trim()).Select(l => l.Contains('{') ? l[l.IndexOf('{')..] : l)
            .Where(l => l.StartsWith("{\"preset\"", StringComparison.Ordinal)).ToList();

    private static string RunSingle(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(MpiLauncher.SamplePath);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) p.Kill(entireProcessTree: true);
        p.ExitCode.Should().Be(0, $"{stdout}\n{stderr.Result}");
        var lines = JsonLines(stdout);
        lines.Should().HaveCount(1, stdout);
        return lines[0];
    }
}
