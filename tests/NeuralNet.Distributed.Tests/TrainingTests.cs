using Xunit.Abstractions;
using NeuralNet.Distributed.Worker;

namespace NeuralNet.Distributed.Tests;

/// <summary>The distributed trainer on in-process rank groups (threads): the same algorithm as under mpirun, no MPI needed.</summary>
public sealed class TrainingTests(ITestOutputHelper output)
{
    internal static float[] TrainInProcess(int ranks, int batchPerRank, int epochs, string? checkpoint = null, bool resume = false)
    {
        var weights = new float[ranks][];
        InProcessCommunicator.RunGroup(ranks, c =>
            weights[c.Rank] = Scenario.Weights(Scenario.Train(c, batchPerRank, epochs, c.IsRoot ? 7UL : 1000UL + (ulong)c.Rank, checkpoint, resume)));
        for (int r = 1; r < ranks; r++) weights[r].Should().Equal(weights[0], $"rank {r} ends with rank 0's weights, bit for bit");
        return weights[0];
    }

    /// <summary>max |a − b| / max |b| over all weights.</summary>
    internal static double RelativeDifference(float[] a, float[] b)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs((double)a[i] - b[i]));
            scale = Math.Max(scale, Math.Abs((double)b[i]));
        }
        return diff / scale;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void NRanksWithBatchB_MatchOneProcessWithBatchNB(int ranks)
    {
        var distributed = TrainInProcess(ranks, 8, 3);
        var single = Scenario.Weights(Scenario.Train(null, 8 * ranks, 3));
        double relative = RelativeDifference(distributed, single);
        output.WriteLine($"{ranks} in-process ranks × batch 8 vs 1 process × batch {8 * ranks}: max |Δw| / max |w| = {relative:E2}");
        double absolute = distributed.Zip(single, (a, b) => Math.Abs((double)a - b)).Max();
        output.WriteLine($"max |Δw| = {absolute:E2}");
        // Measured: 2 ranks 2.9e-7 relative, 3 ranks 2.0e-7 (float32 rounding of the summation order).
        absolute.Should().BeLessThan(2e-6, $"{ranks} ranks × 8 take the same steps as 1 × {8 * ranks}; measured {absolute:E2}");
        relative.Should().BeLessThan(1e-6, $"{ranks} ranks × 8 take the same steps as 1 × {8 * ranks}; measured {relative:E2}");
        distributed.Should().NotEqual(Scenario.Weights(Scenario.Train(null, 8, 3)), "batch 8 on one process is a different run");
    }

    [Fact]
    public void Training_LearnsTheBlobs_AndEveryRankReportsTheSameHistory()
    {
        var histories = new string[3];
        InProcessCommunicator.RunGroup(3, c => histories[c.Rank] = Scenario.Train(c, 8, 3).History.EpochsToCsv());
        histories[1].Should().Be(histories[0]);
        histories[2].Should().Be(histories[0]);
        var last = histories[0].Trim().Split('\n')[^1].Split(',');
        double.Parse(last[5], System.Globalization.CultureInfo.InvariantCulture).Should().BeGreaterThan(0.6, "validation accuracy after 3 epochs on separable blobs");
    }

    [Fact]
    public void ResumeFromCheckpoint_EndsWithTheUninterruptedWeights()
    {
        string dir = Directory.CreateTempSubdirectory("nn-dist-").FullName;
        try
        {
            string ck = Path.Combine(dir, "run.ckpt");
            var uninterrupted = TrainInProcess(2, 8, 4);
            TrainInProcess(2, 8, 2, ck);
            File.Exists(ck).Should().BeTrue();
            File.Exists(ck + ".tmp").Should().BeFalse("the checkpoint is written to a temporary file and renamed");
            var resumed = TrainInProcess(2, 8, 4, ck, resume: true);
            resumed.Should().Equal(uninterrupted, "the checkpoint holds weights, momentum, schedule, shuffle state and epoch");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void CorruptedCheckpoint_StopsWithAnInvalidDataExceptionNamingTheFile()
    {
        string dir = Directory.CreateTempSubdirectory("nn-dist-").FullName;
        try
        {
            string ck = Path.Combine(dir, "run.ckpt");
            Scenario.Train(null, 8, 1, checkpoint: ck);
            var bytes = File.ReadAllBytes(ck);
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(ck, bytes);
            FluentActions.Invoking(() => Scenario.Train(null, 8, 2, checkpoint: ck, resume: true))
                .Should().Throw<InvalidDataException>().WithMessage($"*{ck}*checksum mismatch*");
            File.WriteAllBytes(ck, bytes.AsSpan(0, 20).ToArray());
            FluentActions.Invoking(() => Scenario.Train(null, 8, 2, checkpoint: ck, resume: true))
                .Should().Throw<InvalidDataException>().WithMessage($"*{ck}*");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void DifferentSettingsOnOneRank_StopEveryRank()
    {
        var act = () => InProcessCommunicator.RunGroup(2, c => Scenario.Train(c, c.Rank == 0 ? 8 : 9, 1));
        act.Should().Throw<AggregateException>().Which.InnerExceptions.Should().HaveCount(2)
            .And.AllSatisfy(e => e.Should().BeOfType<ConfigurationMismatchException>().Which.Settings.Should().Equal("options"))
            .And.AllSatisfy(e => e.Message.Should().StartWith("the ranks were started with different settings: options: rank 0 'TrainerOptions { Epochs = 1, BatchSize = 8,"));
    }
}
