using System.Diagnostics;
using System.Globalization;
using NeuralNet;
using NeuralNet.Distributed;

namespace NeuralNet.Distributed.Worker;

/// <summary>
/// The program the distributed tests launch under <c>mpirun</c>. The first argument picks a mode; the rest are
/// <c>--name value</c> options. Every rank prints lines prefixed by its rank; checks that fail throw, which aborts the job.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: NeuralNet.Distributed.Worker <primitives|mismatch|fail|hang|bench|sweep|overlap|train|feature|buckets> [--option value ...]");
            return 2;
        }
        var options = Options.Parse(args.AsSpan(1));
        // Ranks on one machine share its cores; results do not depend on the thread count. --threads overrides it, for
        // ranks that Open MPI believes are on different hosts but share one machine (tests/scripts/two-hosts.sh).
        NeuralNetSettings.MaxDegreeOfParallelism = options.Int("threads", MpiCommunicator.SuggestedThreadsPerRank);
        return MpiCommunicator.Run(world => args[0] switch
        {
            "primitives" => Primitives(world),
            "mismatch" => Mismatch(world),
            "fail" => Fail(world, options),
            "hang" => Hang(world, options),
            "bench" => Bench.Run(world, options),
            "sweep" => Bench.Sweep(world, options),
            "overlap" => Bench.Overlap(world, options),
            "train" => TrainMode.Run(world, options),
            "feature" => TrainMode.Feature(world, options),
            "buckets" => BucketMode.Run(world, options),
            _ => throw new ArgumentException($"Worker: unknown mode '{args[0]}'."),
        });
    }

    /// <summary>Every collective with values whose results are known exactly.</summary>
    private static int Primitives(Communicator world)
    {
        int r = world.Rank, n = world.Size;
        Console.WriteLine($"[rank {r}] size {n} pid {Environment.ProcessId}");
        if (world is MpiCommunicator mpi)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[rank {r}] collective timeout {mpi.CollectiveTimeout.TotalSeconds} s"));

        // Float and double sums, in place and not. Values are small integers so every summation order is exact.
        Span<float> f = [r + 1, 2 * (r + 1), -r];
        world.AllReduce(f, ReduceOperation.Sum);
        Expect(f, [n * (n + 1) / 2f, n * (n + 1f), -(n * (n - 1) / 2f)], "AllReduce<float> in place");
        float[] fs = [r, 1.5f], fr = new float[2];
        world.AllReduce<float>(fs, fr, ReduceOperation.Sum);
        Expect(fr, [n * (n - 1) / 2f, 1.5f * n], "AllReduce<float>");
        double[] ds = [0.25 * r, 1e300 / n], dr = new double[2];
        world.AllReduce<double>(ds, dr, ReduceOperation.Sum);
        Expect(dr, [0.25 * n * (n - 1) / 2, Enumerable.Repeat(1e300 / n, n).Sum()], "AllReduce<double>");
        Span<double> dm = [r, -r];
        world.AllReduce(dm, ReduceOperation.Max);
        Expect(dm, [n - 1, 0], "AllReduce<double> max");
        Span<int> im = [r + 7];
        world.AllReduce(im, ReduceOperation.Min);
        Expect(im, [7], "AllReduce<int> min");
        long total = world.AllReduceSum((long)(r + 1) << 40);
        Expect([total], [((long)n * (n + 1) / 2) << 40], "AllReduceSum(long)");

        // Broadcast from the last rank, of a type MPI does not know (moved as bytes).
        Span<(int, double)> b = [(r, r * 0.5), (-r, 1)];
        world.Broadcast(b, root: n - 1);
        if (b[0] != (n - 1, (n - 1) * 0.5) || b[1] != (-(n - 1), 1)) throw new InvalidOperationException($"Broadcast: got {b[0]} {b[1]}");

        // All-gather in rank order.
        var gathered = new int[2 * n];
        world.AllGather<int>([r, 100 + r], gathered);
        Expect(gathered.Select(x => (double)x).ToArray(), Enumerable.Range(0, n).SelectMany(k => new double[] { k, 100 + k }).ToArray(), "AllGather<int>");

        // All-to-all: block j of rank r's buffer goes to rank j.
        var outgoing = Enumerable.Range(0, 2 * n).Select(i => 1000 * r + i).ToArray();
        var incoming = new int[2 * n];
        world.AllToAll<int>(outgoing, incoming);
        Expect(incoming, Enumerable.Range(0, n).SelectMany(k => new[] { 1000 * k + 2 * r, 1000 * k + 2 * r + 1 }).ToArray(), "AllToAll<int>");

        // The ordered sum is bit-identical on all ranks even for values whose sum depends on the order.
        var rng = new RandomGenerator(1234 + (ulong)r);
        var x = new float[1001];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextGaussian() * Math.Pow(10, rng.NextInt(8) - 4));
        var expected = new float[x.Length];
        for (int k = 0; k < n; k++)
        {
            var rk = new RandomGenerator(1234 + (ulong)k);
            for (int i = 0; i < x.Length; i++)
            {
                float v = (float)(rk.NextGaussian() * Math.Pow(10, rk.NextInt(8) - 4));
                expected[i] = k == 0 ? v : expected[i] + v;
            }
        }
        world.AllReduceSumOrdered<float>(x);
        for (int i = 0; i < x.Length; i++)
            if (BitConverter.SingleToInt32Bits(x[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                throw new InvalidOperationException($"AllReduceSumOrdered: element {i} is {x[i]:R}, the rank-order sum is {expected[i]:R}.");

        world.Barrier();
        Console.WriteLine($"[rank {r}] primitives OK");
        return 0;
    }

    /// <summary>Rank 1 describes a different model: every rank must stop with the mismatch message.</summary>
    private static int Mismatch(Communicator world)
    {
        int hidden = world.Rank == 1 ? 32 : 16;
        var parameters = new[] { new Parameter<float>("weight", new NdArray<float>(hidden, 4)), new Parameter<float>("bias", new NdArray<float>(hidden)) };
        var dp = new DataParallel<float>(world, parameters);
        string hash = dp.VerifySameConfiguration($"model: Dense(4 -> {hidden})\nlearning rate: 0.1");
        Console.WriteLine($"[rank {world.Rank}] configuration {hash} agreed (unexpected)");
        return 0;
    }

    /// <summary>Loops over all-reduces; rank --rank throws at step --step.</summary>
    private static int Fail(Communicator world, Options options)
    {
        int failRank = options.Int("rank", 1), failStep = options.Int("step", 5);
        var buffer = new float[1000];
        Console.WriteLine($"[rank {world.Rank}] pid {Environment.ProcessId}");
        for (int step = 0; ; step++)
        {
            if (world.Rank == failRank && step == failStep)
                throw new InvalidOperationException($"deliberate failure at step {step}");
            buffer.AsSpan().Fill(1);
            world.AllReduceSumOrdered<float>(buffer);
            if (step % 100 == 0) Console.WriteLine($"[rank {world.Rank}] step {step}");
            Thread.Sleep(1);
        }
    }

    /// <summary>Like <see cref="Fail"/>, but rank <c>--rank</c> stops answering at step <c>--step</c> (sleeps forever) instead
    /// of failing; every rank sets <see cref="MpiCommunicator.CollectiveTimeout"/> to <c>--timeout</c> seconds.</summary>
    private static int Hang(MpiCommunicator world, Options options)
    {
        int hangRank = options.Int("rank", 1), hangStep = options.Int("step", 5);
        world.CollectiveTimeout = TimeSpan.FromSeconds(options.Int("timeout", 3));
        var buffer = new float[1000];
        Console.WriteLine($"[rank {world.Rank}] pid {Environment.ProcessId}");
        for (int step = 0; ; step++)
        {
            if (world.Rank == hangRank && step == hangStep)
            {
                Console.WriteLine($"[rank {world.Rank}] hanging at step {step}");
                Console.Out.Flush();
                Thread.Sleep(Timeout.Infinite);
            }
            buffer.AsSpan().Fill(1);
            world.AllReduceSumOrdered<float>(buffer);
            if (step % 100 == 0) Console.WriteLine($"[rank {world.Rank}] step {step}");
            Thread.Sleep(1);
        }
    }

    internal static void Expect(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i]) throw new InvalidOperationException($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}.");
    }

    internal static void Expect(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i]) throw new InvalidOperationException($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}.");
    }

    internal static void Expect(ReadOnlySpan<int> actual, ReadOnlySpan<int> expected, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i]) throw new InvalidOperationException($"{what}: element {i} is {actual[i]}, expected {expected[i]}.");
    }

    internal static void Expect(ReadOnlySpan<long> actual, ReadOnlySpan<long> expected, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i]) throw new InvalidOperationException($"{what}: element {i} is {actual[i]}, expected {expected[i]}.");
    }
}

/// <summary><c>--name value</c> pairs.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static Options Parse(ReadOnlySpan<string> args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Worker: expected --option, got '{args[i]}'.");
            string name = args[i][2..];
            string value = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
            o._values[name] = value;
        }
        return o;
    }

    public int Int(string name, int fallback) => _values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) => _values.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public string? String(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public bool Flag(string name) => _values.TryGetValue(name, out var v) && v == "true";
}
