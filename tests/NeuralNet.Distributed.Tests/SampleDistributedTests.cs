using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

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

    /// <summary>The issue's example: before the one trainer, 2 ranks × 128 reached 95.71% and one process × 256 95.09% (the
    /// distributed trainer shuffled from another generator). Now both runs take the same global batches.</summary>
    [MpiFact]
    public void MlpPreset_OnTwoRanks_ReachesTheAccuracyOfOneProcessWithinATenthOfAPoint()
    {
        string[] common = ["--preset", "mlp", "--json", "--no-report", "--epochs", "2", "--seed", "7"];
        var run = MpiLauncher.Run(2, [.. common, "--distributed", "--output", Path.Combine(_dir, "two")], TimeSpan.FromSeconds(400), program: MpiLauncher.SamplePath);
        run.ExitCode.Should().Be(0, run.ToString());
        var two = JsonDocument.Parse(JsonLines(run.Output).Single()).RootElement;
        var one = JsonDocument.Parse(RunSingle([.. common, "--output", Path.Combine(_dir, "one")], 400)).RootElement;
        double a = two.GetProperty("testAccuracy").GetDouble() * 100, b = one.GetProperty("testAccuracy").GetDouble() * 100;
        Console.WriteLine($"mlp, seed 7, 2 epochs: 2 ranks × 128 {a:F2}%, 1 process × 256 {b:F2}%");
        Math.Abs(a - b).Should().BeLessThan(0.1, $"2 ranks × 128 reached {a:F2}%, one process × 256 {b:F2}%");
        b.Should().BeGreaterThan(90, "two epochs of the mlp preset learn MNIST");
    }

    /// <summary>spark-mlp samples 70% of the images each epoch, which the distributed path used to refuse; with a validation
    /// split it trains on 2 ranks like one process.</summary>
    [MpiFact]
    public void SparkMlpWithValidation_OnTwoRanks_TrainsLikeOneProcess()
    {
        string[] common = ["--preset", "spark-mlp", "--json", "--no-report", "--epochs", "3", "--subset", "2000", "--validation", "400"];
        var run = MpiLauncher.Run(2, [.. common, "--distributed", "--output", Path.Combine(_dir, "two")], TimeSpan.FromSeconds(200), program: MpiLauncher.SamplePath);
        run.ExitCode.Should().Be(0, run.ToString());
        var two = JsonDocument.Parse(JsonLines(run.Output).Single()).RootElement;
        var one = JsonDocument.Parse(RunSingle([.. common, "--output", Path.Combine(_dir, "one")])).RootElement;
        two.GetProperty("epochs").GetInt32().Should().Be(3);
        double lossTwo = two.GetProperty("finalLoss").GetDouble(), lossOne = one.GetProperty("finalLoss").GetDouble();
        Math.Abs(lossTwo - lossOne).Should().BeLessThan(1e-4 * Math.Abs(lossOne), $"final loss {lossTwo} on 2 ranks, {lossOne} on one");
        two.GetProperty("testAccuracy").GetDouble().Should().BeApproximately(one.GetProperty("testAccuracy").GetDouble(), 0.002);
        // The 400 held-out images are evaluated in slices on the ranks and reduced: the same validation loss every epoch.
        static double[] ValidationLosses(string dir) => File.ReadAllLines(Path.Combine(dir, "history.csv")).Skip(1)
            .Select(l => double.Parse(l.Split(',')[3], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var (vTwo, vOne) = (ValidationLosses(Path.Combine(_dir, "two")), ValidationLosses(Path.Combine(_dir, "one")));
        vTwo.Should().HaveCount(3).And.OnlyContain(v => double.IsFinite(v));
        for (int e = 0; e < 3; e++) vTwo[e].Should().BeApproximately(vOne[e], 1e-4 * vOne[e], $"validation loss of epoch {e + 1}");
    }

    /// <summary>--batch-size is the global batch under --distributed; one that the ranks cannot share equally stops every rank
    /// with the same message (spark-mlp's batch of 10 on 3 ranks).</summary>
    [MpiFact]
    public void GlobalBatchNotAMultipleOfTheRanks_FailsOnEveryRankWithTheSameMessage()
    {
        var run = MpiLauncher.Run(3, ["--preset", "spark-mlp", "--distributed", "--json", "--no-report", "--epochs", "1", "--subset", "300",
            "--output", Path.Combine(_dir, "out")], TimeSpan.FromSeconds(60), program: MpiLauncher.SamplePath);
        run.TimedOut.Should().BeFalse(run.ToString());
        run.ExitCode.Should().Be(1, run.ToString());
        Regex.Matches(run.Output, Regex.Escape("mnist: error: --batch-size 10 (the global batch) is not a multiple of the 3 ranks; give a multiple of 3."))
            .Should().HaveCount(3, run.ToString());
    }

    /// <summary>The JSON summary lines, which must be plain: no terminal escape code anywhere in the output (the launcher
    /// runs mpirun with TERM=xterm, and Open MPI gives every rank a pseudo-terminal as standard output).</summary>
    [Fact]
    public void SingleProcessJson_OnATerminalWithTermXterm_IsPlainJson()
    {
        // script(1) gives the sample a pseudo-terminal as standard output, where .NET's console would otherwise write
        // the terminal's keypad-mode sequence ESC[?1h ESC= before the first character.
        if (!File.Exists("/usr/bin/script"))
        {
            MpiLauncher.IsCi.Should().BeFalse("CI must have script(1) (package bsdutils/util-linux)");
            return;
        }
        string command = $"dotnet {MpiLauncher.SamplePath} --preset mlp --json --no-report --epochs 1 --subset 500 --output {Path.Combine(_dir, "tty")}";
        var psi = new ProcessStartInfo("/usr/bin/script") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "-qefc", command, "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "xterm";
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) p.Kill(entireProcessTree: true);
        p.ExitCode.Should().Be(0, stdout);
        stdout.Should().StartWith("{\"preset\":\"mlp\"", "the JSON line is the first thing on the terminal");
        JsonLines(stdout).Should().ContainSingle();
    }

    [MpiTheory]
    [InlineData(2, "missing")]
    [InlineData(3, "directory")]
    public void ResumeFromAnUnreadableCheckpoint_FailsOnEveryRankWithTheSameMessage(int ranks, string kind)
    {
        string path = Path.Combine(_dir, "no-such.ckpt");
        if (kind == "directory") Directory.CreateDirectory(path = Path.Combine(_dir, "a-directory"));
        var run = MpiLauncher.Run(ranks, ["--preset", "mlp", "--distributed", "--json", "--no-report", "--epochs", "2", "--subset", "1000",
            "--resume", path, "--output", Path.Combine(_dir, "out")], TimeSpan.FromSeconds(60), program: MpiLauncher.SamplePath);
        run.TimedOut.Should().BeFalse(run.ToString());
        run.ExitCode.Should().Be(1, run.ToString());
        string expected = kind == "directory" ? $"mnist: error: Checkpoint '{path}' is a directory, not a checkpoint file."
            : $"mnist: error: Checkpoint '{path}' does not exist.";
        Regex.Matches(run.Output, Regex.Escape(expected)).Should().HaveCount(ranks, $"every rank prints the same message:\n{run}");
        run.Output.Should().NotContain("{\"preset\"", "nothing was trained");
    }

    [MpiTheory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    public void ResumeGivenToOneRankOnly_StopsEveryRankQuickly_NamingTheSetting(int ranks, int resumingRank)
    {
        string checkpoint = Path.Combine(_dir, "some.ckpt");
        File.WriteAllBytes(checkpoint, [1, 2, 3]);
        string[] common = ["--preset", "mlp", "--distributed", "--json", "--no-report", "--epochs", "2", "--subset", "1000", "--output", Path.Combine(_dir, "out")];
        var perRank = Enumerable.Range(0, ranks).Select(r => r == resumingRank ? [.. common, "--resume", checkpoint] : common).ToArray();
        var run = MpiLauncher.RunApps(perRank, TimeSpan.FromSeconds(60), program: MpiLauncher.SamplePath);
        run.TimedOut.Should().BeFalse("a resume on one rank must not deadlock: " + run);
        run.ExitCode.Should().Be(1, run.ToString());
        string values = string.Join(", ", Enumerable.Range(0, ranks).Select(r => r == resumingRank ? $"rank {r} '{checkpoint}'" : $"rank {r} 'none'"));
        Regex.Matches(run.Output, Regex.Escape($"mnist: error: the ranks were started with different settings: --resume: {values}."))
            .Should().HaveCount(ranks, run.ToString());
        run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "the check runs before any data is loaded: " + run);
    }

    [MpiTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void DecayStepSizeOrScheduleDifferingOnOneRank_StopsEveryRank_NamingEachDifferingSetting(int ranks)
    {
        string[] common = ["--preset", "mlp", "--distributed", "--json", "--no-report", "--schedule", "step", "--epochs", "2", "--subset", "1000",
            "--output", Path.Combine(_dir, "out")];
        var perRank = Enumerable.Range(0, ranks)
            .Select(r => r == ranks - 1 ? [.. common, "--decay", "0.5", "--step-size", "3"] : r == 1 && ranks == 3 ? [.. common, "--bold-increase", "1.1"] : common)
            .ToArray();
        var watch = Stopwatch.StartNew();
        var run = MpiLauncher.RunApps(perRank, TimeSpan.FromSeconds(60), program: MpiLauncher.SamplePath);
        run.TimedOut.Should().BeFalse(run.ToString());
        run.ExitCode.Should().Be(1, run.ToString());
        string last = $"rank {ranks - 1}";
        var message = new Regex(@"mnist: error: the ranks were started with different settings: (.*)$", RegexOptions.Multiline);
        var found = message.Matches(run.Output);
        found.Should().HaveCount(ranks, run.ToString());
        found.Select(m => m.Groups[1].Value.TrimEnd('\r')).Distinct().Should().ContainSingle("every rank prints the same message");
        string text = found[0].Groups[1].Value;
        text.Should().Contain($"--decay: rank 0 '0.97'").And.Contain($"{last} '0.5'");
        text.Should().Contain("--step-size: rank 0 '1'").And.Contain($"{last} '3'");
        if (ranks == 3) text.Should().Contain("--bold-increase: rank 0 '1.05', rank 1 '1.1', rank 2 '1.05'");
        text.Should().NotContain("--epochs", "only the differing settings are named");
        run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), run.ToString());
    }

    private static List<string> JsonLines(string output)
    {
        output.Should().NotContain("\u001b", "--json output is plain text whatever TERM says:\n" + output);
        return output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Contains("\"preset\"", StringComparison.Ordinal)).ToList()
            .Should().AllSatisfy(l => l.Should().StartWith("{\"preset\"", "the JSON line starts at its first byte")).And.Subject.ToList();
    }

    private static string RunSingle(string[] args, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(MpiLauncher.SamplePath);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "xterm";
        psi.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeoutSeconds * 1000)) p.Kill(entireProcessTree: true);
        p.ExitCode.Should().Be(0, $"{stdout}\n{stderr.Result}");
        var lines = JsonLines(stdout);
        lines.Should().HaveCount(1, stdout);
        return lines[0];
    }
}
