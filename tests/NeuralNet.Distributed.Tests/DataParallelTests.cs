namespace NeuralNet.Distributed.Tests;

public sealed class DataParallelTests
{
    [Fact]
    public void Shard_SplitsEveryBatchContiguouslyWithCountsWithinOne()
    {
        for (int size = 1; size <= 4; size++)
            for (int n = 0; n <= 13; n++)
            {
                int next = 0;
                for (int r = 0; r < size; r++)
                {
                    var (offset, count) = DataParallel<float>.Shard(n, r, size);
                    offset.Should().Be(next, $"shard {r} of {size} for {n} examples starts where shard {r - 1} ended");
                    count.Should().BeInRange(n / size, (n + size - 1) / size);
                    next += count;
                }
                next.Should().Be(n);
            }
        DataParallel<float>.Shard(7, 0, 3).Should().Be((0, 3));
        DataParallel<float>.Shard(7, 2, 3).Should().Be((5, 2));
        FluentActions.Invoking(() => DataParallel<float>.Shard(7, 3, 3)).Should().Throw<ArgumentOutOfRangeException>();
    }

    private static Parameter<float>[] MakeParameters(int rank)
    {
        var w = new Parameter<float>("weight", new NdArray<float>(2, 3));
        var b = new Parameter<float>("bias", new NdArray<float>(2));
        for (int i = 0; i < 6; i++) { w.Value.Data[i] = rank * 10 + i; w.Gradient.Data[i] = (rank + 1) * (i + 1) * 0.1f; }
        for (int i = 0; i < 2; i++) { b.Value.Data[i] = -rank; b.Gradient.Data[i] = rank == 2 ? float.NaN : 1f / (rank + 3); }
        return [w, b];
    }

    [Fact]
    public void AllReduceGradients_WeightsEachRankByItsShare_AndIgnoresEmptyShards()
    {
        // Global batch of 5 over 3 ranks as 3 + 2 + 0: rank 2's gradients are stale NaNs and must not leak in.
        int[] counts = [3, 2, 0];
        var results = new float[3][];
        InProcessCommunicator.RunGroup(3, c =>
        {
            var ps = MakeParameters(c.Rank);
            var dp = new DataParallel<float>(c, ps);
            dp.ParameterCount.Should().Be(8);
            dp.AllReduceGradients(counts[c.Rank], 5);
            results[c.Rank] = [.. ps[0].Gradient.Data, .. ps[1].Gradient.Data];
        });
        var g0 = MakeParameters(0); var g1 = MakeParameters(1);
        float s0 = (float)(3.0 / 5), s1 = (float)(2.0 / 5);
        var expected = new float[8];
        for (int i = 0; i < 6; i++) expected[i] = (g0[0].Gradient.Data[i] * s0 + g1[0].Gradient.Data[i] * s1) + 0f;
        for (int i = 0; i < 2; i++) expected[6 + i] = (g0[1].Gradient.Data[i] * s0 + g1[1].Gradient.Data[i] * s1) + 0f;
        foreach (var r in results) r.Should().Equal(expected, "every rank gets Σ (nᵣ/n)·Gᵣ summed in rank order, bit for bit");
        results[0][6].Should().BeApproximately((3f / 5) * (1f / 3) + (2f / 5) * (1f / 4), 1e-7f);
    }

    [Fact]
    public void BroadcastParameters_GivesEveryRankRankZerosValues()
    {
        var results = new float[2][];
        InProcessCommunicator.RunGroup(2, c =>
        {
            var ps = MakeParameters(c.Rank);
            var dp = new DataParallel<float>(c, ps);
            dp.BroadcastParameters();
            dp.VerifyParametersIdentical("after broadcast");
            results[c.Rank] = [.. ps[0].Value.Data, .. ps[1].Value.Data];
        });
        results[1].Should().Equal(results[0]).And.Equal(0, 1, 2, 3, 4, 5, 0, 0);
    }

    [Fact]
    public void VerifyParametersIdentical_ThrowsOnEveryRankWhenOneDiffersByOneBit()
    {
        var act = () => InProcessCommunicator.RunGroup(3, c =>
        {
            var ps = MakeParameters(0);
            if (c.Rank == 2) ps[0].Value.Data[4] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(4f) + 1);
            new DataParallel<float>(c, ps).VerifyParametersIdentical("epoch 1, step 7");
        });
        act.Should().Throw<AggregateException>().Which.InnerExceptions.Should().HaveCount(3)
            .And.AllSatisfy(e => e.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("diverged at epoch 1, step 7"));
    }

    [Fact]
    public void VerifySameConfiguration_AgreesOnEqualSettingsAndNamesTheOddRankOut()
    {
        var hashes = new string[3];
        InProcessCommunicator.RunGroup(3, c => hashes[c.Rank] = new DataParallel<float>(c, MakeParameters(c.Rank)).VerifySameConfiguration("lr 0.1"));
        hashes.Should().OnlyContain(h => h == hashes[0]).And.OnlyContain(h => h.Length == 16);

        var act = () => InProcessCommunicator.RunGroup(3, c =>
            new DataParallel<float>(c, MakeParameters(0)).VerifySameConfiguration(c.Rank == 1 ? "lr 0.2" : "lr 0.1"));
        act.Should().Throw<AggregateException>().Which.InnerExceptions.Should().HaveCount(3)
            .And.AllSatisfy(e => e.Message.Should().MatchRegex("rank 0 has hash [0-9a-f]{16}, rank 1 has [0-9a-f]{16}\\.(?!.*rank 2 has)"));
    }

    [Fact]
    public void Constructor_RejectsAnEmptyParameterList()
    {
        FluentActions.Invoking(() => new DataParallel<float>(new LocalCommunicator(), []))
            .Should().Throw<ArgumentException>().WithMessage("*no parameters*");
    }
}
