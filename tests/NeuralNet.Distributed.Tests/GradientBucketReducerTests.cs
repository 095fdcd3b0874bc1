using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Distributed.Tests;

/// <summary>The overlapped, bucketed gradient reduction in one process.</summary>
public sealed class GradientBucketReducerTests
{
    private static Sequential<T> Model<T>(RandomGenerator random) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
        new([1, 8, 8],
            new Conv2D<T>(1, 4, 3, bias: false, random: random), new BatchNorm2d<T>(4), new ReLU<T>(),   // 36 + 4 + 4
            new MaxPool2D<T>(2, 2), new Flatten<T>(),
            new Dense<T>(36, 12, random: random), new Sigmoid<T>(),                                    // 432 + 12
            new Dense<T>(12, 5, random: random));                                                      // 60 + 5

    [Fact]
    public void Layout_GroupsWholeLayersFromTheLastUntilTheBucketIsFull()
    {
        var model = Model<float>(new RandomGenerator(1));
        var one = new LocalCommunicator();
        new GradientBucketReducer<float>(one, model, 1).Layout.Should().Equal((7, 7, 65), (5, 5, 444), (1, 1, 8), (0, 0, 36));
        // 65 + 444 elements = 2036 bytes reach 2000 at layer 5; the rest is the last bucket.
        new GradientBucketReducer<float>(one, model, 2000).Layout.Should().Equal((5, 7, 509), (0, 1, 44));
        new GradientBucketReducer<float>(one, model).Layout.Should().Equal((0, 7, 553));
        new GradientBucketReducer<double>(one, Model<double>(new RandomGenerator(1)), 2000).Layout.Should().Equal((5, 7, 509), (0, 1, 44));
        new GradientBucketReducer<float>(one, model).Overlaps.Should().BeFalse("one rank has nothing to communicate");
        FluentActions.Invoking(() => new GradientBucketReducer<float>(one, new Sequential<float>([3], new ReLU<float>())))
            .Should().Throw<ArgumentException>().WithMessage("*no parameters*");
        FluentActions.Invoking(() => new GradientBucketReducer<float>(one, model, 0)).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(3, 2000)]
    [InlineData(3, int.MaxValue)]
    public void InProcessGroup_BucketedOverlap_EqualsDataParallelOrderedReduction_BitForBit(int ranks, int bucketBytes)
    {
        const int globalBatch = 8;  // 4 + 4, or 3 + 3 + 2 examples: unequal shares 3/8 and 2/8
        var mismatches = new List<string>[ranks];
        var gradients = new float[ranks][];
        InProcessCommunicator.RunGroup(ranks, c =>
        {
            mismatches[c.Rank] = [];
            var reference = Model<float>(new RandomGenerator(5));
            var bucketed = Model<float>(new RandomGenerator(5));
            var dp = new DataParallel<float>(c, reference.Parameters);
            using var reducer = new GradientBucketReducer<float>(c, bucketed, bucketBytes);
            reducer.Overlaps.Should().Be(bucketBytes != int.MaxValue, "one bucket is reduced on the calling thread");
            bucketed.LayerBackwardCompleted = reducer.LayerCompleted;
            var (offset, count) = DataParallel<float>.Shard(globalBatch, c.Rank, c.Size);
            var loss = new SoftmaxCrossEntropyLoss<float>();
            for (int step = 0; step < 3; step++)
            {
                var rng = new RandomGenerator(10 + (ulong)step);
                var all = Enumerable.Range(0, globalBatch * 64).Select(_ => (float)rng.NextGaussian()).ToArray();
                var input = new NdArray<float>(all.AsSpan(offset * 64, count * 64).ToArray(), count, 1, 8, 8);
                var labels = Enumerable.Range(offset, count).Select(i => (i + step) % 5).ToArray();
                foreach (var (model, bucketedStep) in new[] { (reference, false), (bucketed, true) })
                {
                    model.ZeroGrad();
                    if (bucketedStep) reducer.Begin(count, globalBatch);
                    loss.Forward(model.Forward(input, training: true), labels);
                    model.Backward(loss.Backward());
                    if (bucketedStep) reducer.Complete();
                    else dp.AllReduceGradients(count, globalBatch);
                }
                for (int p = 0; p < reference.Parameters.Count; p++)
                    if (!reference.Parameters[p].Gradient.AsSpan().SequenceEqual(bucketed.Parameters[p].Gradient.AsSpan()))
                        mismatches[c.Rank].Add($"step {step}, {reference.Parameters[p].Name}");
            }
            gradients[c.Rank] = bucketed.Parameters.SelectMany(p => p.Gradient.Data).ToArray();
        });
        foreach (var m in mismatches) m.Should().BeEmpty();
        for (int r = 1; r < ranks; r++) gradients[r].Should().Equal(gradients[0], "every rank holds the same averaged gradient");
        gradients[0].Should().Contain(x => x != 0f);
    }

    [Fact]
    public void EmptyShard_ContributesZeros_AndStaleGradientsDoNotLeak()
    {
        // 2 examples over 3 ranks: rank 2 has none; its stale gradients are NaN and must not reach the others.
        var results = new float[3][];
        InProcessCommunicator.RunGroup(3, c =>
        {
            var model = Model<float>(new RandomGenerator(5));
            using var reducer = new GradientBucketReducer<float>(c, model, 1);
            foreach (var p in model.Parameters) p.Gradient.AsSpan().Fill(c.Rank == 2 ? float.NaN : c.Rank + 1);
            reducer.Begin(c.Rank == 2 ? 0 : 1, 2);
            for (int layer = model.Layers.Count - 1; layer >= 0; layer--) reducer.LayerCompleted(layer);
            reducer.Complete();
            results[c.Rank] = model.Parameters.SelectMany(p => p.Gradient.Data).ToArray();
        });
        // (1·½ + 2·½) + 0 = 1.5 exactly.
        foreach (var r in results) r.Should().OnlyContain(x => x == 1.5f);
    }

    [Fact]
    public void WithoutLayerCallbacks_CompleteReducesEverything_AndMisuseIsReported()
    {
        var results = new double[2][];
        InProcessCommunicator.RunGroup(2, c =>
        {
            var model = Model<double>(new RandomGenerator(5));
            using var reducer = new GradientBucketReducer<double>(c, model, 1);
            FluentActions.Invoking(() => reducer.LayerCompleted(3)).Should().Throw<InvalidOperationException>().WithMessage("*Begin*");
            FluentActions.Invoking(reducer.Complete).Should().Throw<InvalidOperationException>().WithMessage("*Begin*");
            foreach (var p in model.Parameters) p.Gradient.AsSpan().Fill(c.Rank == 0 ? 0.25 : 0.75);
            reducer.Begin(3, 6);
            FluentActions.Invoking(() => reducer.Begin(3, 6)).Should().Throw<InvalidOperationException>().WithMessage("*not completed*");
            reducer.Complete();
            results[c.Rank] = model.Parameters.SelectMany(p => p.Gradient.Data).ToArray();
        });
        foreach (var r in results) r.Should().OnlyContain(x => x == 0.5);
    }

    [Fact]
    public void CommunicatorWithoutThreadSupport_ReducesOnTheCallingThread_WithTheSameResult()
    {
        var model = Model<float>(new RandomGenerator(5));
        var mirror = new MirrorCommunicator(anyThread: false);
        using var reducer = new GradientBucketReducer<float>(mirror, model, 1);
        reducer.Overlaps.Should().BeFalse();
        foreach (var p in model.Parameters) p.Gradient.AsSpan().Fill(3f);
        reducer.Begin(1, 4);
        reducer.LayerCompleted(7);
        mirror.Threads.Should().Equal([Environment.CurrentManagedThreadId], "the last layer's bucket is reduced at once, on this thread");
        for (int layer = 6; layer >= 0; layer--) reducer.LayerCompleted(layer);
        reducer.Complete();
        // Two identical "ranks", each scaled by 1/4: 0.75 + 0.75.
        model.Parameters.SelectMany(p => p.Gradient.Data).Should().OnlyContain(x => x == 1.5f);
    }

    [Fact]
    public void FailureOnTheCommunicationThread_IsRethrownByComplete()
    {
        var model = Model<float>(new RandomGenerator(5));
        var mirror = new MirrorCommunicator(anyThread: true) { FailAt = 2 };
        using var reducer = new GradientBucketReducer<float>(mirror, model, 1);
        reducer.Begin(1, 2);
        for (int layer = model.Layers.Count - 1; layer >= 0; layer--) reducer.LayerCompleted(layer);
        FluentActions.Invoking(reducer.Complete).Should().Throw<CommunicatorAbortedException>().WithMessage("*deliberate*");
        mirror.Threads.Should().NotContain(Environment.CurrentManagedThreadId, "the collectives before the last bucket run on the communication thread");
    }

    [Fact]
    public void SteadyState_AllocatesNothing_OnTheCallingOrTheCommunicationThread()
    {
        var model = Model<float>(new RandomGenerator(5));
        var mirror = new MirrorCommunicator(anyThread: true);
        using var reducer = new GradientBucketReducer<float>(mirror, model, 1);
        reducer.Overlaps.Should().BeTrue();
        model.LayerBackwardCompleted = reducer.LayerCompleted;
        void Step()
        {
            reducer.Begin(2, 4);
            for (int layer = model.Layers.Count - 1; layer >= 0; layer--) model.LayerBackwardCompleted!(layer);
            reducer.Complete();
        }
        for (int i = 0; i < 5; i++) Step();
        int buckets = reducer.Layout.Count;
        int calls = mirror.AllocatedAtCall.Count;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Step();
        long caller = GC.GetAllocatedBytesForCurrentThread() - before;
        caller.Should().Be(0, "Begin, LayerCompleted and Complete allocate nothing after the first step");
        // The communication thread's own counter, read at each of its collectives: from the first collective of step 6
        // to the first of the last step it did 19 steps of packing, reducing and writing back.
        var stamps = mirror.AllocatedAtCall.Skip(calls).ToArray();
        stamps.Length.Should().Be(20 * buckets * 2, "an all-to-all and an all-gather per bucket and step");
        (stamps[^(2 * buckets)] - stamps[0]).Should().Be(0, "the communication thread allocates nothing after the first step");
    }

    /// <summary>The communicator of one rank of two identical ranks (the other rank's data mirrors this one's), without
    /// allocating: an ordered sum gives x + x. Records which threads called it and their allocation counters.</summary>
    private sealed class MirrorCommunicator(bool anyThread) : Communicator
    {
        public readonly List<int> Threads = new(1024);
        public readonly List<long> AllocatedAtCall = new(1024);
        public int FailAt { get; init; } = -1;
        private int _calls;

        public override int Rank => 0;
        public override int Size => 2;
        public override bool CollectivesOnAnyThread => anyThread;

        public override void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive)
        {
            Record();
            int block = send.Length / 2;
            for (int r = 0; r < 2; r++) send[..block].CopyTo(receive.Slice(r * block, block));
        }

        public override void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
        {
            Record();
            send.CopyTo(receive);
            send.CopyTo(receive[send.Length..]);
        }

        private void Record()
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            if (_calls++ == FailAt) throw new CommunicatorAbortedException("deliberate failure of the transport");
            if (!Threads.Contains(Environment.CurrentManagedThreadId)) Threads.Add(Environment.CurrentManagedThreadId);
            AllocatedAtCall.Add(allocated);
        }

        public override void AllReduce<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOperation operation) => throw new NotSupportedException();
        public override void AllReduce<T>(Span<T> buffer, ReduceOperation operation) => throw new NotSupportedException();
        public override void Broadcast<T>(Span<T> buffer, int root = 0) => throw new NotSupportedException();
        public override void Barrier() => throw new NotSupportedException();
        public override void Abort(int errorCode, string reason) => throw new NotSupportedException();
    }
}

/// <summary>The bucketed reduction under real mpirun.</summary>
[Collection("mpirun")]
public sealed class MpiGradientBucketTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [MpiTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void Buckets_EqualTheOrderedDataParallelReduction_BitForBit_ForSeveralNetworksAndTypes(int ranks)
    {
        var run = MpiLauncher.Run(ranks, ["buckets"], TimeSpan.FromSeconds(120));
        run.ExitCode.Should().Be(0, run.ToString());
        for (int r = 0; r < ranks; r++)
            run.Output.Should().Contain($"[rank {r}] buckets OK: 952 parameter tensors bit-identical to the ordered DataParallel reduction", run.ToString());
        // The layouts that were compared include one bucket per layer for the batch-normalized CNN.
        run.Output.Should().Contain("[rank 0] modern-cnn, buckets of ≥ 1 B: [16-16: 330] [13-13: 64] [12-12: 8192]", run.ToString());
        output.WriteLine($"{ranks} ranks: {run.Elapsed.TotalSeconds:F1} s");
    }

    [MpiFact]
    public void RankStoppedDuringBucketedSteps_IsNamed_AndTheJobEndsAfterTheTimeout()
    {
        var (run, stoppedAt) = MpiLauncher.RunActingOnRank1(2, ["buckets", "--loop"], "[rank 0] step 100",
            pid => MpiLauncher.Signal(pid, MpiLauncher.SigStop).Should().Be(0),
            new Dictionary<string, string> { [MpiCommunicator.CollectiveTimeoutVariable] = "2" });
        run.TimedOut.Should().BeFalse(run.ToString());
        stoppedAt.Should().NotBe(0, "rank 1 was stopped mid-run: " + run);
        var ended = Stopwatch.GetElapsedTime(stoppedAt);
        output.WriteLine($"the job ended {ended.TotalSeconds:F1} s after SIGSTOP of rank 1 (timeout 2 s)");
        run.ExitCode.Should().NotBe(0, run.ToString());
        // Rank 0's communication thread was waiting in a bucket's collective.
        run.Output.Should().MatchRegex(@"\[rank 0/2\] fatal: MPI_(Alltoall|Allgather) \(collective #\d+\) did not complete within 2 s \(MpiCommunicator.CollectiveTimeout\): rank 1 did not arrive", run.ToString());
        ended.Should().BeLessThan(TimeSpan.FromSeconds(20), run.ToString());
    }
}
