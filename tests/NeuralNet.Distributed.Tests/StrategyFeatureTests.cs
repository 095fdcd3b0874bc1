using System.Globalization;
using System.Runtime.InteropServices;
using NeuralNet.Distributed.Worker;
using NeuralNet.Training;
using Xunit.Abstractions;

namespace NeuralNet.Distributed.Tests;

/// <summary>What one rank-0 run of a <see cref="Features"/> scenario ended with, for comparing runs.</summary>
internal sealed record FeatureResult(float[] Weights, string Csv, string Outcome, int Epochs, long Iterations, int StoppedEpoch)
{
    public static FeatureResult From(Features.Outcome o) => new(Scenario.Weights(o.Trainer),
        o.Trainer.History.EpochsToCsv() + o.Trainer.History.IterationsToCsv(), o.Error ?? "completed", o.Trainer.Epoch, o.Trainer.Iteration,
        o.EarlyStopping?.StoppedEpoch ?? 0);

    /// <summary>Checks that N ranks × B ended like one process × N·B: same epochs, steps, stop epoch and outcome; histories and
    /// weights equal to float rounding. Returns (max |Δw|, max |Δw| / max |w|).</summary>
    public static (double Absolute, double Relative) ShouldMatch(FeatureResult parallel, FeatureResult single, string feature)
    {
        parallel.Epochs.Should().Be(single.Epochs, feature);
        parallel.Iterations.Should().Be(single.Iterations, feature);
        parallel.StoppedEpoch.Should().Be(single.StoppedEpoch, feature);
        parallel.Outcome.Split(':')[0].Should().Be(single.Outcome.Split(':')[0], $"{feature}: {parallel.Outcome} vs {single.Outcome}");
        CompareCsv(parallel.Csv, single.Csv, feature);
        double abs = 0, scale = 0;
        for (int i = 0; i < single.Weights.Length; i++)
        {
            abs = Math.Max(abs, Math.Abs((double)parallel.Weights[i] - single.Weights[i]));
            scale = Math.Max(scale, Math.Abs((double)single.Weights[i]));
        }
        return (abs, abs / scale);
    }

    /// <summary>Same rows and columns; numbers equal to 1e-4 relative (accuracies to one example in 30), elapsed time ignored.</summary>
    private static void CompareCsv(string a, string b, string feature)
    {
        var ra = a.Trim().Split('\n');
        var rb = b.Trim().Split('\n');
        ra.Length.Should().Be(rb.Length, $"{feature}: the same history rows\n{a}\nvs\n{b}");
        for (int r = 0; r < ra.Length; r++)
        {
            var ca = ra[r].Split(',');
            var cb = rb[r].Split(',');
            ca.Length.Should().Be(cb.Length);
            if (!double.TryParse(ca[0], CultureInfo.InvariantCulture, out _))
            {
                ra[r].Should().Be(rb[r], "header");
                var header = ca;
                continue;
            }
            for (int c = 0; c < ca.Length; c++)
            {
                if (IsElapsed(rb, r, c)) continue;
                double x = double.Parse(ca[c], CultureInfo.InvariantCulture), y = double.Parse(cb[c], CultureInfo.InvariantCulture);
                if (double.IsNaN(y)) { double.IsNaN(x).Should().BeTrue($"{feature} row {r} column {c}"); continue; }
                x.Should().BeApproximately(y, 1e-4 * Math.Max(1, Math.Abs(y)) + (IsAccuracy(rb, r, c) ? 0.034 : 0), $"{feature} row {r} column {c}: {ra[r]} vs {rb[r]}");
            }
        }
    }

    private static string Column(string[] rows, int r, int c)
    {
        for (int h = r; h >= 0; h--)
            if (!double.TryParse(rows[h].Split(',')[0], CultureInfo.InvariantCulture, out _)) return rows[h].Split(',')[c].Trim();
        return "";
    }

    private static bool IsElapsed(string[] rows, int r, int c) => Column(rows, r, c).StartsWith("elapsed", StringComparison.Ordinal);

    private static bool IsAccuracy(string[] rows, int r, int c) => Column(rows, r, c).EndsWith("accuracy", StringComparison.Ordinal);
}

/// <summary>Every trainer feature under data parallelism on in-process rank groups (threads), against one process with the
/// global batch. The same scenarios run under real mpirun in <see cref="MpiFeatureTests"/>.</summary>
public sealed class StrategyFeatureTests(ITestOutputHelper output)
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string f in Features.Names) { data.Add(f, 2); data.Add(f, 3); }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Feature_OnNRanks_BehavesLikeOneProcessWithTheGlobalBatch(string feature, int ranks)
    {
        var results = new FeatureResult[ranks];
        InProcessCommunicator.RunGroup(ranks, c => results[c.Rank] = FeatureResult.From(Features.Run(c, feature, 8, faultRank: ranks - 1)));
        for (int r = 1; r < ranks; r++)
        {
            // Except where the test itself wrote a NaN into the last rank's weights.
            if (feature != "diverge") results[r].Weights.Should().Equal(results[0].Weights, $"rank {r} holds rank 0's weights bit for bit");
            results[r].Csv.Should().Be(results[0].Csv, $"rank {r} has rank 0's history, times included");
            results[r].Outcome.Should().Be(results[0].Outcome, $"rank {r} stops with rank 0's exception");
        }
        var single = FeatureResult.From(Features.Run(null, feature, 8 * ranks, faultRank: 0));
        var (abs, rel) = FeatureResult.ShouldMatch(results[0], feature == "diverge" ? single with { Weights = results[0].Weights } : single, feature);
        output.WriteLine($"{feature}, {ranks} ranks × 8 vs 1 × {8 * ranks}: {results[0].Epochs} epochs, {results[0].Iterations} steps, {results[0].Outcome}; max |Δw| = {abs:E2}, relative {rel:E2}");
        rel.Should().BeLessThan(2e-6, $"measured max |Δw| = {abs:E2}, relative {rel:E2}");
        switch (feature)
        {
            case "early-stopping":
                results[0].StoppedEpoch.Should().BeInRange(2, 39, "early stopping ended the run before its 40 epochs");
                break;
            case "stop":
                results[0].Outcome.Should().Be("completed");
                results[0].Iterations.Should().Be(7, "the stop requested after step 7 on one rank ends every rank's training there");
                break;
            case "cancel":
                results[0].Outcome.Should().Be("OperationCanceledException: Trainer.Fit: training was cancelled on a rank; every rank stopped at its last completed step.");
                results[0].Iterations.Should().Be(7, "cancellation leaves every rank at its last completed step");
                break;
            case "diverge":
                results[0].Outcome.Should().StartWith("TrainingDivergedException: Training diverged at epoch").And.Contain("iteration 7: the output of layer 0")
                    .And.EndWith($"(on rank {ranks - 1} of {ranks}; every rank stopped)");
                break;
            case "sample-fraction":
                results[0].Iterations.Should().Be(4 * ((70 + 8 * ranks - 1) / (8 * ranks)), "70 of 100 examples per epoch");
                break;
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void CheckpointWrittenByNRanks_ResumesInOneProcess_AndViceVersa(int ranks)
    {
        string dir = Directory.CreateTempSubdirectory("nn-dist-").FullName;
        try
        {
            var uninterrupted = Scenario.Weights(Scenario.Train(null, 8 * ranks, 4));
            // N ranks write after epoch 2; one process finishes.
            string byRanks = Path.Combine(dir, "ranks.safetensors");
            TrainingTests.TrainInProcess(ranks, 8, 2, byRanks);
            var finishedAlone = Scenario.Weights(Scenario.Train(null, 8 * ranks, 4, checkpoint: byRanks, resume: true));
            // One process writes after epoch 2; N ranks finish.
            string alone = Path.Combine(dir, "alone.safetensors");
            Scenario.Train(null, 8 * ranks, 2, checkpoint: alone);
            var finishedByRanks = TrainingTests.TrainInProcess(ranks, 8, 4, alone, resume: true);
            NeuralNet.Serialization.SafeTensorsFile.Load(byRanks).Metadata[TrainingCheckpoint.VersionKey].Should().Be("2", "the ranks write the one checkpoint format");
            double a = TrainingTests.RelativeDifference(finishedAlone, uninterrupted), b = TrainingTests.RelativeDifference(finishedByRanks, uninterrupted);
            output.WriteLine($"{ranks} ranks → 1 process: relative {a:E2}; 1 process → {ranks} ranks: relative {b:E2}");
            a.Should().BeLessThan(2e-6);
            b.Should().BeLessThan(2e-6);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>What the ranks of a data-parallel trainer compare before they train, and how a restore is shared.</summary>
public sealed class StrategyAgreementTests
{
    private static Exception[] Failures(int ranks, Action<InProcessCommunicator> body)
    {
        var act = () => InProcessCommunicator.RunGroup(ranks, body);
        return act.Should().Throw<AggregateException>().Which.InnerExceptions.ToArray();
    }

    [Fact]
    public void ScheduleParameterDifferingOnOneRank_StopsEveryRank_NamingTheSchedule()
    {
        var errors = Failures(3, c =>
        {
            var random = new RandomGenerator(7);
            var model = new NeuralNet.Modules.Sequential<float>([Scenario.Features], new NeuralNet.Modules.Dense<float>(Scenario.Features, Scenario.Classes, random: random));
            var sgd = new NeuralNet.Optimization.Sgd<float>(model, 0.5);
            _ = new NeuralNet.Optimization.Schedules.BoldDriverSchedule(sgd, increase: 1.05, decrease: c.Rank == 2 ? 0.4 : 0.5);
            var trainer = new Trainer<float>(model, new NeuralNet.Losses.SoftmaxCrossEntropyLoss<float>(), sgd, new RandomGenerator(1))
            {
                Strategy = new DataParallelStrategy<float>(c),
            };
            var (x, y) = Scenario.Data(Scenario.TrainCount, 1);
            trainer.Fit(x, y, new TrainerOptions { BatchSize = 8 });
        });
        errors.Should().HaveCount(3).And.AllBeOfType<ConfigurationMismatchException>();
        errors.Select(e => e.Message).Distinct().Should().ContainSingle("every rank reports the same");
        ((ConfigurationMismatchException)errors[0]).Settings.Should().Contain("schedule");
        errors[0].Message.Should().Contain("Decrease=0.5").And.Contain("Decrease=0.4");
    }

    [Fact]
    public void RestoreOnOneRankOnly_StopsEveryRank_NamingTheCallAndTheCheckpoint()
    {
        string dir = Directory.CreateTempSubdirectory("nn-dist-").FullName;
        try
        {
            string ck = Path.Combine(dir, "run.safetensors");
            Scenario.Train(null, 16, 1, checkpoint: ck);
            var errors = Failures(2, c =>
            {
                var trainer = Scenario.Create(c);
                if (c.Rank == 1) TrainingCheckpoint.Restore(trainer, ck);
                var (x, y) = Scenario.Data(Scenario.TrainCount, 1);
                trainer.Fit(x, y, new TrainerOptions { BatchSize = 8 });
            });
            errors.Should().HaveCount(2).And.AllBeOfType<ConfigurationMismatchException>();
            ((ConfigurationMismatchException)errors[0]).Settings.Should().Contain(["trainer call", "resumed from"]);
            errors[0].Message.Should().Contain("trainer call: rank 0 'Trainer.Fit', rank 1 'TrainingCheckpoint.Restore'");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void RestoreFromAFileThatIsNotACheckpoint_FailsOnEveryRankWithTheSameInvalidDataException()
    {
        string junk = Path.Combine(Path.GetTempPath(), $"nn-junk-{Guid.NewGuid():N}.safetensors");
        // A header length far beyond the file: rank 0 reads it the way one process does, header first.
        File.WriteAllBytes(junk, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 1, 2, 3]);
        try
        {
            var errors = Failures(2, c => TrainingCheckpoint.Restore(Scenario.Create(c), junk));
            errors.Should().HaveCount(2).And.AllBeOfType<InvalidDataException>();
            errors.Select(e => e.Message).Distinct().Should().ContainSingle("every rank reports rank 0's reading of the file");
            errors[0].Message.Should().Contain(junk);
        }
        finally
        {
            File.Delete(junk);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void RestoreFromAMissingFile_FailsOnEveryRankWithTheSameIOException(int ranks)
    {
        string missing = Path.Combine(Path.GetTempPath(), $"nn-missing-{Guid.NewGuid():N}.safetensors");
        var errors = Failures(ranks, c => TrainingCheckpoint.Restore(Scenario.Create(c), missing));
        errors.Should().HaveCount(ranks).And.AllBeOfType<IOException>();
        errors.Select(e => e.Message).Should().AllBe($"Checkpoint '{missing}' does not exist.");
    }

    [Fact]
    public void RestoredRanks_AgreeOnTheCheckpointTheyResumedFrom()
    {
        string dir = Directory.CreateTempSubdirectory("nn-dist-").FullName;
        try
        {
            string ck = Path.Combine(dir, "run.safetensors");
            Scenario.Train(null, 16, 1, checkpoint: ck);
            var epochs = new int[2];
            InProcessCommunicator.RunGroup(2, c =>
            {
                var trainer = Scenario.Create(c);
                TrainingCheckpoint.Restore(trainer, ck);
                epochs[c.Rank] = trainer.Epoch;
                var (x, y) = Scenario.Data(Scenario.TrainCount, 1);
                trainer.Fit(x, y, new TrainerOptions { BatchSize = 8 });
            });
            epochs.Should().Equal(1, 1);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
