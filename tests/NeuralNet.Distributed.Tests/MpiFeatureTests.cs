using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NeuralNet.Distributed.Worker;
using Xunit.Abstractions;

namespace NeuralNet.Distributed.Tests;

/// <summary>Every trainer feature under real mpirun (callbacks, early stopping, validation split, sample fraction, per-iteration
/// history, a stop request, cancellation and divergence on one rank), against one process with the global batch.</summary>
[Collection("mpirun")]
public sealed class MpiFeatureTests(ITestOutputHelper output)
{
    [MpiTheory]
    [MemberData(nameof(StrategyFeatureTests.Cases), MemberType = typeof(StrategyFeatureTests))]
    public void Feature_UnderMpirun_BehavesLikeOneProcessWithTheGlobalBatch(string feature, int ranks)
    {
        string dir = Directory.CreateTempSubdirectory("nn-mpi-feature-").FullName;
        try
        {
            string weights = Path.Combine(dir, "w.bin"), history = Path.Combine(dir, "history.csv");
            var run = MpiLauncher.Run(ranks, ["feature", "--feature", feature, "--batch", "8", "--fault-rank", (ranks - 1).ToString(),
                "--weights", weights, "--history", history]);
            run.TimedOut.Should().BeFalse(run.ToString());
            run.ExitCode.Should().Be(0, run.ToString());
            var outcomes = Regex.Matches(run.Output, @"^\[rank (\d)\] outcome: (.*)$", RegexOptions.Multiline).Select(m => m.Groups[2].Value.TrimEnd('\r')).ToList();
            outcomes.Should().HaveCount(ranks, run.ToString());
            outcomes.Distinct().Should().ContainSingle("every rank ends the same way: " + run);
            var summaries = Regex.Matches(run.Output, @"^\[rank \d\] feature .*: (\d+) epochs, (\d+) steps, stopped epoch (\d+), weights checksum ([0-9a-f]{16})", RegexOptions.Multiline);
            summaries.Should().HaveCount(ranks, run.ToString());
            if (feature != "diverge") summaries.Select(m => m.Groups[4].Value).Distinct().Should().ContainSingle("every rank holds the same weights");
            var m0 = summaries.Single(m => m.Value.StartsWith("[rank 0]", StringComparison.Ordinal));
            var mpi = new FeatureResult(MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(weights)).ToArray(), File.ReadAllText(history), outcomes[0],
                int.Parse(m0.Groups[1].Value), long.Parse(m0.Groups[2].Value), int.Parse(m0.Groups[3].Value));

            var single = FeatureResult.From(Features.Run(null, feature, 8 * ranks, faultRank: 0));
            var (abs, rel) = FeatureResult.ShouldMatch(mpi, feature == "diverge" ? single with { Weights = mpi.Weights } : single, feature);
            output.WriteLine($"mpirun -np {ranks} {feature} × 8 vs 1 process × {8 * ranks}: {mpi.Epochs} epochs, {mpi.Iterations} steps, {mpi.Outcome}; max |Δw| = {abs:E2}, relative {rel:E2}");
            rel.Should().BeLessThan(2e-6, $"measured max |Δw| = {abs:E2}, relative {rel:E2}");
            if (feature == "diverge")
                mpi.Outcome.Should().StartWith("TrainingDivergedException: Training diverged at epoch").And.EndWith($"(on rank {ranks - 1} of {ranks}; every rank stopped)");
            if (feature is "cancel" or "stop") mpi.Iterations.Should().Be(7);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
