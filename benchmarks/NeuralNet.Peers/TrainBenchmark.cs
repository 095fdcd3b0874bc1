using System.Diagnostics;
using NeuralNet.Losses;
using NeuralNet.Initialization;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Optimization;

namespace NeuralNet.Peers;

/// <summary>Times training steps (forward, loss, backward, SGD update) of one reference network.</summary>
internal static class TrainBenchmark
{
    /// <summary>The learning rate of every framework in the comparison (peers.py LEARNING_RATE).</summary>
    internal const float LearningRate = 0.05f;

    /// <summary>A network of the comparison; <paramref name="Momentum"/> is the SGD momentum (0: plain SGD).</summary>
    internal sealed record Net(string Title, int Batch, int[] ExampleShape, Func<RandomGenerator, Sequential<float>> Build, double Momentum = 0);

    /// <summary>The networks, layer for layer the same as peers.py: the library's reference networks with logits
    /// out and the layers' default initialization (Xavier uniform), drawn from a generator seeded 42.</summary>
    internal static readonly Dictionary<string, Net> Nets = new()
    {
        ["a"] = new("MLP 784-64-10 sigmoid, b256", 256, [784], r => ReferenceNetworks.Mlp<float>(r, initializer: Initializer.Default)),
        ["b"] = new("MLP 784-400-100-25-10 ReLU, b30", 30, [784], r => ReferenceNetworks.DeepMlp<float>(r, initializer: Initializer.Default)),
        ["c"] = new("LeNet-5, b64", 64, [1, 28, 28], r => ReferenceNetworks.LeNet5<float>(r, initializer: Initializer.Default)),
        ["d"] = new("CNN conv8@3x3-pool-20-10 sigmoid, b1", 1, [1, 28, 28], r => ReferenceNetworks.SmallCnn<float>(r, filterStandardDeviation: null)),
        // samples/Mnist's modern-cnn network (without its augmentation), trained with batch statistics, dropout and momentum.
        ["e"] = new("Modern CNN 24-48-96 BN, dense 128 BN dropout, momentum, b128", 128, [1, 28, 28], r => ReferenceNetworks.ModernCnn<float>(r), Momentum: 0.9),
    };

    /// <summary>The network named by --net.</summary>
    internal static Net Select(string name) => Nets.TryGetValue(name, out var net)
        ? net
        : throw new ArgumentException($"--net expects one of {string.Join(", ", Nets.Keys)}, got '{name}'.");

    public static void Run(Options options)
    {
        var net = Select(options.Net);
        if (!options.Steps.TryGetValue(options.Net, out int steps))
            throw new ArgumentException($"--steps has no count for net {options.Net}.");

        var (inputs, labels, description) = BenchmarkData.Load(options.Data, options.MnistDirectory, net.Batch, net.ExampleShape);
        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "info", ["data"] = description, ["threads"] = options.Threads,
            ["dotnet"] = Environment.Version.ToString(),
            ["avx512"] = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
        });

        var model = net.Build(new RandomGenerator(42));
        // The first layer's input gradient is never needed (PyTorch skips it too: the input does not require grad).
        model.ComputeInputGradient = false;
        model.Layers[0].ComputeInputGradient = false;
        var loss = new SoftmaxCrossEntropyLoss<float>();
        // SGD as torch.optim.SGD: plain (p -= lr·dp) for a-d, with momentum for e.
        var sgd = new Sgd<float>(model, LearningRate, momentum: net.Momentum);

        float Step(NdArray<float> x, int[] y) => RawStep(model, loss, sgd, x, y);

        int nb = inputs.Length;
        long i = 0;
        float first = float.NaN, last = float.NaN;
        long t0 = Stopwatch.GetTimestamp();
        while (i < options.Warmup || Stopwatch.GetElapsedTime(t0).TotalSeconds < options.WarmupSeconds)
        {
            last = Step(inputs[i % nb], labels[i % nb]);
            if (i == 0) first = last;
            i++;
        }
        // A very slow implementation times fewer steps per run (the rate stays comparable) so all runs fit the budget;
        // the step time is estimated on a few steps after the warm-up (peers.py does the same).
        t0 = Stopwatch.GetTimestamp();
        for (int s = 0; s < 5; s++, i++)
            last = Step(inputs[i % nb], labels[i % nb]);
        long warmSteps = i;
        double perStep = Stopwatch.GetElapsedTime(t0).TotalSeconds / 5;
        steps = (int)Math.Max(1, Math.Min(steps, options.Budget / options.Repeats / perStep));

        var rates = new List<double>();
        double used = 0;
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        int gcs = GC.CollectionCount(0);
        for (int r = 0; r < options.Repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int s = 0; s < steps; s++, i++)
                last = Step(inputs[i % nb], labels[i % nb]);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            rates.Add(net.Batch * (double)steps / seconds);
            used += seconds;
            if (used > options.Budget) break;
        }
        long timedSteps = (long)steps * rates.Count;
        double allocPerStep = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)timedSteps;

        Json.Emit(new()
        {
            ["framework"] = "neuralnet", ["kind"] = "train", ["net"] = options.Net, ["title"] = net.Title,
            ["batch"] = net.Batch, ["steps"] = steps, ["warmup"] = warmSteps, ["repeats"] = rates.Count,
            ["samples_per_s"] = Json.Median(rates), ["all"] = rates,
            ["loss_first"] = first, ["loss_last"] = last, ["threads"] = options.Threads,
            ["alloc_bytes_per_step"] = allocPerStep, ["gen0_collections"] = GC.CollectionCount(0) - gcs,
        });
    }

    /// <summary>One raw training step, as every framework's step benchmark runs it: zero the gradients, forward, loss,
    /// backward, update. Returns the batch loss.</summary>
    internal static float RawStep(Sequential<float> model, Loss<float> loss, Sgd<float> sgd, NdArray<float> x, int[] y)
    {
        sgd.ZeroGrad();
        var logits = model.Forward(x, training: true);
        float value = loss.Forward(logits, y);
        model.Backward(loss.Backward());
        sgd.Step();
        return value;
    }
}
