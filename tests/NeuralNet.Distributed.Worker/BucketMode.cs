using System.Numerics;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;

namespace NeuralNet.Distributed.Worker;

/// <summary>
/// <c>buckets</c>: checks that <see cref="GradientBucketReducer{T}"/> (overlapped, bucketed) gives the same bits as
/// <see cref="DataParallel{T}.AllReduceGradients"/> with the ordered reduction, for several networks (with and without
/// batch normalization), float and double, several bucket sizes and uneven or empty shards, over a few SGD steps.
/// <c>buckets --loop</c>: bucketed steps forever (for the collective-timeout test, which stops a rank).
/// </summary>
internal static class BucketMode
{
    public static int Run(Communicator world, Options options)
    {
        if (options.Flag("loop")) return Loop(world);
        int comparisons = 0;
        foreach (string net in new[] { "mlp", "cnn", "modern-cnn" })
        {
            // Uneven shards (7 = 4 + 3 or 3 + 2 + 2; 8 = 3 + 3 + 2 with 3 ranks): batch normalization needs two examples per rank.
            int batch = net == "modern-cnn" ? 8 : 7;
            foreach (int bucketBytes in new[] { 1, 4096, GradientBucketReducer<float>.DefaultBucketBytes, int.MaxValue })
            {
                comparisons += Compare<float>(world, net, bucketBytes, batch);
                comparisons += Compare<double>(world, net, bucketBytes, batch);
            }
            // Fewer examples than ranks (with 3 ranks one shard is empty and contributes zeros).
            if (net != "modern-cnn") comparisons += Compare<float>(world, net, 4096, globalBatch: 2);
        }
        Console.WriteLine($"[rank {world.Rank}] buckets OK: {comparisons} parameter tensors bit-identical to the ordered DataParallel reduction");
        return 0;
    }

    private static Sequential<T> Build<T>(string net) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new RandomGenerator(11);
        return net switch
        {
            "mlp" => new Sequential<T>([1, 28, 28], new Flatten<T>(),
                new Dense<T>(784, 32, random: random), new Sigmoid<T>(), new Dense<T>(32, 16, random: random), new ReLU<T>(),
                new Dense<T>(16, 10, random: random)),
            "cnn" => new Sequential<T>([1, 28, 28],
                new Conv2D<T>(1, 4, 5, random: random), new ReLU<T>(), new MaxPool2D<T>(2, 2),
                new Conv2D<T>(4, 8, 5, random: random), new ReLU<T>(), new MaxPool2D<T>(2, 2),
                new Flatten<T>(), new Dense<T>(128, 24, random: random), new ReLU<T>(), new Dense<T>(24, 10, random: random)),
            _ => Networks.ModernCnn<T>(random, 4, 8, 16, 32),
        };
    }

    /// <summary>Four SGD steps (momentum 0.9) of two identical models, one reduced by DataParallel, the other by the bucket
    /// reducer hooked on the backward pass; gradients and weights must agree bit for bit after every step.</summary>
    private static int Compare<T>(Communicator world, string net, int bucketBytes, int globalBatch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var reference = Build<T>(net);
        var bucketed = Build<T>(net);
        var dp = new DataParallel<T>(world, reference.Parameters);
        using var reducer = new GradientBucketReducer<T>(world, bucketed, bucketBytes);
        bucketed.LayerBackwardCompleted = reducer.LayerCompleted;
        if (world.Size > 1 && reducer.Layout.Count > 1 && !reducer.Overlaps) throw new InvalidOperationException("GradientBucketReducer: expected the overlapped path under mpirun.");
        var sgdA = new Sgd<T>(reference, 0.05, momentum: 0.9);
        var sgdB = new Sgd<T>(bucketed, 0.05, momentum: 0.9);
        var loss = new SoftmaxCrossEntropyLoss<T>();
        var (offset, count) = DataParallel<T>.Shard(globalBatch, world.Rank, world.Size);
        int compared = 0;
        for (int step = 0; step < 4; step++)
        {
            var rng = new RandomGenerator(100 + (ulong)step);
            var all = new T[globalBatch * 784];
            for (int i = 0; i < all.Length; i++) all[i] = T.CreateChecked(rng.NextGaussian());
            var labels = Enumerable.Range(0, globalBatch).Select(i => (i * 7 + step) % 10).ToArray();
            var input = count > 0 ? new NdArray<T>(all.AsSpan(offset * 784, count * 784).ToArray(), [count, 1, 28, 28]) : null;
            var shardLabels = labels.AsSpan(offset, count).ToArray();

            reference.ZeroGrad();
            if (count > 0)
            {
                loss.Forward(reference.Forward(input!, training: true), shardLabels);
                reference.Backward(loss.Backward());
            }
            dp.AllReduceGradients(count, globalBatch);

            bucketed.ZeroGrad();
            reducer.Begin(count, globalBatch);
            if (count > 0)
            {
                loss.Forward(bucketed.Forward(input!, training: true), shardLabels);
                bucketed.Backward(loss.Backward());
            }
            reducer.Complete();

            for (int p = 0; p < reference.Parameters.Count; p++)
            {
                var a = reference.Parameters[p];
                var b = bucketed.Parameters[p];
                if (!a.Gradient.AsSpan().SequenceEqual(b.Gradient.AsSpan()))
                    throw new InvalidOperationException(Describe(world, net, bucketBytes, globalBatch, step, $"gradient of {a.Name}", a.Gradient.AsSpan(), b.Gradient.AsSpan()));
                compared++;
            }
            sgdA.Step();
            sgdB.Step();
            for (int p = 0; p < reference.Parameters.Count; p++)
                if (!reference.Parameters[p].Value.AsSpan().SequenceEqual(bucketed.Parameters[p].Value.AsSpan()))
                    throw new InvalidOperationException(Describe(world, net, bucketBytes, globalBatch, step, $"weights of {reference.Parameters[p].Name}",
                        reference.Parameters[p].Value.AsSpan(), bucketed.Parameters[p].Value.AsSpan()));
        }
        dp.VerifyParametersIdentical($"{net}, {typeof(T).Name}, buckets of {bucketBytes} B");
        if (world.IsRoot && globalBatch > 2 && typeof(T) == typeof(float))
            Console.WriteLine($"[rank 0] {net}, buckets of ≥ {bucketBytes} B: {string.Join(" ", reducer.Layout.Select(l => $"[{l.FirstLayer}-{l.LastLayer}: {l.Elements}]"))}");
        return compared;
    }

    private static string Describe<T>(Communicator world, string net, int bucketBytes, int globalBatch, int step, string what, ReadOnlySpan<T> expected, ReadOnlySpan<T> actual)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        while (i < expected.Length && expected[i].Equals(actual[i])) i++;
        return $"rank {world.Rank}: {net}, {typeof(T).Name}, buckets of {bucketBytes} B, global batch {globalBatch}, step {step}: the {what} differ from DataParallel's at element {i}: {actual[i]} instead of {expected[i]}.";
    }

    /// <summary>Bucketed training steps until the job is ended; prints the pid and every 50th step.</summary>
    private static int Loop(Communicator world)
    {
        var model = Build<float>("cnn");
        using var reducer = new GradientBucketReducer<float>(world, model, 1);
        model.LayerBackwardCompleted = reducer.LayerCompleted;
        var loss = new SoftmaxCrossEntropyLoss<float>();
        var input = new NdArray<float>(4, 1, 28, 28);
        input.AsSpan().Fill(0.5f);
        int[] labels = [1, 2, 3, 4];
        Console.WriteLine($"[rank {world.Rank}] pid {Environment.ProcessId}");
        for (int step = 0; ; step++)
        {
            model.ZeroGrad();
            reducer.Begin(4, 4 * world.Size);
            loss.Forward(model.Forward(input, training: true), labels);
            model.Backward(loss.Backward());
            reducer.Complete();
            if (step % 50 == 0) Console.WriteLine($"[rank {world.Rank}] step {step}");
        }
    }
}
