namespace NeuralNet.Distributed.Tests;

public sealed class InProcessCommunicatorTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Collectives_GiveTheRankOrderResultOnEveryRank(int size)
    {
        var results = new string[size];
        InProcessCommunicator.RunGroup(size, c =>
        {
            Span<float> f = [c.Rank + 1, -c.Rank];
            c.AllReduce(f, ReduceOperation.Sum);
            Span<double> mx = [c.Rank * 1.5];
            c.AllReduce(mx, ReduceOperation.Max);
            long[] ls = [c.Rank + 10], lr = new long[1];
            c.AllReduce<long>(ls, lr, ReduceOperation.Min);
            var gathered = new int[size];
            c.AllGather<int>([c.Rank * 7], gathered);
            Span<(int, double)> b = [(c.Rank, -c.Rank)];
            c.Broadcast(b, root: size - 1);
            var exchanged = new int[size];
            c.AllToAll<int>(Enumerable.Range(0, size).Select(j => 10 * c.Rank + j).ToArray(), exchanged);
            c.Barrier();
            results[c.Rank] = $"{f[0]} {f[1]} {mx[0]} {lr[0]} [{string.Join(",", gathered)}] {b[0]} [{string.Join(",", exchanged)}]";
        });
        int n = size;
        string expected = $"{n * (n + 1) / 2} {-(n * (n - 1) / 2)} {(n - 1) * 1.5} 10 [{string.Join(",", Enumerable.Range(0, n).Select(r => r * 7))}] ({n - 1}, {-(n - 1)})";
        for (int r = 0; r < n; r++)
            results[r].Should().Be(expected + $" [{string.Join(",", Enumerable.Range(0, n).Select(k => 10 * k + r))}]");
    }

    [Fact]
    public void AllReduceSumOrdered_AddsInRankOrder_BitIdenticalOnEveryRank()
    {
        // Float addition is not associative: with x = (1e8, 5, -1e8), (x0 + x1) + x2 = 8 but (x0 + x2) + x1 = 5.
        // Two elements over three ranks: one block each for ranks 0 and 1, a zero-padded block for rank 2.
        float[][] inputs = [[1e8f, 1f], [5f, 1e-8f], [-1e8f, -1f]];
        var results = new float[3][];
        InProcessCommunicator.RunGroup(3, c =>
        {
            var x = (float[])inputs[c.Rank].Clone();
            c.AllReduceSumOrdered<float>(x);
            results[c.Rank] = x;
        });
        float[] expected = [(1e8f + 5f) + -1e8f, (1f + 1e-8f) + -1f];
        foreach (var r in results) r.Should().Equal(expected);
        expected[0].Should().Be(8f, "1e8 + 5 rounds to 1e8 + 8 in float; another order would give 5");
    }

    [Fact]
    public void RankFailure_ReleasesTheOtherRanksWithAClearError()
    {
        var act = () => InProcessCommunicator.RunGroup(3, c =>
        {
            if (c.Rank == 2) throw new InvalidOperationException("boom");
            c.Barrier();
        });
        var e = act.Should().Throw<AggregateException>().Which;
        e.Message.Should().Contain("3 ranks failed").And.Contain("boom");
        e.InnerExceptions.OfType<CommunicatorAbortedException>().Should().HaveCount(2)
            .And.AllSatisfy(x => x.Message.Should().Contain("rank 2 of 3 failed: InvalidOperationException: boom"));
    }

    [Fact]
    public void Abort_StopsEveryRank()
    {
        var act = () => InProcessCommunicator.RunGroup(2, c =>
        {
            if (c.Rank == 0) c.Abort(3, "settings differ");
            Span<float> x = [1f];
            c.AllReduce(x, ReduceOperation.Sum);
        });
        act.Should().Throw<AggregateException>().Which.InnerExceptions
            .Should().HaveCount(2).And.AllSatisfy(x => x.Message.Should().Contain("rank 0 of 2 aborted the job with code 3: settings differ"));
    }

    [Fact]
    public void BadArguments_ThrowArgumentExceptions()
    {
        var c = InProcessCommunicator.CreateGroup(1)[0];
        var send = new float[3];
        c.Invoking(x => x.AllReduce<float>(send, new float[2], ReduceOperation.Sum)).Should().Throw<ArgumentException>().WithMessage("*send has 3 elements, receive 2*");
        c.Invoking(x => x.AllReduce<float>(send, send, ReduceOperation.Sum)).Should().Throw<ArgumentException>().WithMessage("*overlap*");
        c.Invoking(x => x.AllReduce<byte>(new byte[2], ReduceOperation.Sum)).Should().Throw<ArgumentException>().WithMessage("*float, double, int and long*not Byte*");
        c.Invoking(x => x.AllGather<float>(send, new float[4])).Should().Throw<ArgumentException>().WithMessage("*receive must hold 1 × 3 elements but has 4*");
        c.Invoking(x => x.Broadcast<float>(send, 1)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*root rank 1 is outside the group of 1 ranks*");
    }

    [Fact]
    public void LocalCommunicator_IsTheIdentityGroupOfOne()
    {
        using var c = new LocalCommunicator();
        c.Rank.Should().Be(0);
        c.Size.Should().Be(1);
        c.IsRoot.Should().BeTrue();
        Span<double> x = [2.5, -1];
        c.AllReduce(x, ReduceOperation.Sum);
        x.ToArray().Should().Equal(2.5, -1);
        var r = new float[2];
        c.AllReduce<float>([1f, 2f], r, ReduceOperation.Max);
        r.Should().Equal(1f, 2f);
        c.AllReduceSum(41L).Should().Be(41);
        c.Invoking(l => l.Abort(2, "why")).Should().Throw<CommunicatorAbortedException>().WithMessage("*code 2: why*");
    }
}
