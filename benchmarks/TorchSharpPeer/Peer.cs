using System.Diagnostics;
using NeuralNet.Peers;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpPeer;

/// <summary>Training steps, Fit-like epochs and SGEMM in TorchSharp, layer for layer the networks of peers.py.</summary>
internal static class Peer
{
    private const double LearningRate = 0.05;

    private sealed record Net(string Title, int Batch, long[] ExampleShape, Func<nn.Module<Tensor, Tensor>> Build, double Momentum = 0);

    private static readonly Dictionary<string, Net> Nets = new()
    {
        ["a"] = new("MLP 784-64-10 sigmoid, b256", 256, [784], () => nn.Sequential(
            nn.Linear(784, 64), nn.Sigmoid(), nn.Linear(64, 10))),
        ["b"] = new("MLP 784-400-100-25-10 ReLU, b30", 30, [784], () => nn.Sequential(
            nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 100), nn.ReLU(),
            nn.Linear(100, 25), nn.ReLU(), nn.Linear(25, 10))),
        ["c"] = new("LeNet-5, b64", 64, [1, 28, 28], () => nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))),
        ["d"] = new("CNN conv8@3x3-pool-20-10 sigmoid, b1", 1, [1, 28, 28], () => nn.Sequential(
            nn.Conv2d(1, 8, 3, bias: false), nn.Sigmoid(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(1352, 20), nn.Sigmoid(), nn.Linear(20, 10))),
        ["e"] = new("Modern CNN 24-48-96 BN, dense 128 BN dropout, momentum, b128", 128, [1, 28, 28], () => nn.Sequential(
            nn.Conv2d(1, 24, 5, bias: false), nn.BatchNorm2d(24), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(24, 48, 3, padding: 1, bias: false), nn.BatchNorm2d(48), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(48, 96, 3, bias: false), nn.BatchNorm2d(96), nn.ReLU(), nn.Flatten(),
            nn.Linear(1536, 128, hasBias: false), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(128, 10)), Momentum: 0.9),
    };

    private static Net Select(Options options) =>
        Nets.TryGetValue(options.Net, out var net) ? net : throw new ArgumentException($"--net expects one of {string.Join(", ", Nets.Keys)}, got '{options.Net}'.");

    /// <summary>The first <paramref name="limit"/> images (N, 784) in [0, 1] and their labels, as tensors.</summary>
    private static (Tensor X, Tensor Y, string Description) LoadData(Options options, int limit)
    {
        float[] images;
        long[] labels;
        string description;
        if (options.Data == "mnist")
        {
            var (img, lab) = MnistFiles.Read(options.MnistDirectory ?? Path.Combine("data", "mnist"), limit);
            images = img;
            labels = lab.Select(l => (long)l).ToArray();
            description = $"MNIST train, first {labels.Length} images, scaled to [0,1]";
        }
        else
        {
            var random = new Random(1234);
            images = new float[limit * 784];
            labels = new long[limit];
            for (int i = 0; i < images.Length; i++) images[i] = random.NextSingle();
            for (int i = 0; i < labels.Length; i++) labels[i] = random.Next(10);
            description = $"random uniform [0,1) data of MNIST shape, {limit} images";
        }
        return (tensor(images, [labels.Length, 784]), tensor(labels), description);
    }

    private static void EmitInfo(Options options, string description) => Json.Emit(new()
    {
        ["framework"] = "torchsharp", ["kind"] = "info", ["data"] = description, ["threads"] = options.Threads,
        ["torch_threads"] = get_num_threads(), ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString() ?? "?",
        ["dotnet"] = Environment.Version.ToString(),
    });

    /// <summary>The raw step, timed as peers.py's run_loop: warm-up, then REPEATS runs of a fixed number of steps.</summary>
    public static void Train(Options options)
    {
        var net = Select(options);
        if (!options.Steps.TryGetValue(options.Net, out int steps))
            throw new ArgumentException($"--steps has no count for net {options.Net}.");
        var (x, y, description) = LoadData(options, 60000);
        EmitInfo(options, description);
        manual_seed(42);
        var model = net.Build();
        model.train();
        var criterion = nn.CrossEntropyLoss();
        var sgd = optim.SGD(model.parameters(), LearningRate, momentum: net.Momentum);
        long[] shape = [net.Batch, .. net.ExampleShape];
        // Consecutive batches as views of the data set (no copy), as the NumPy and PyTorch slices.
        int nb = (int)(x.shape[0] / net.Batch);
        var batches = new (Tensor X, Tensor Y)[nb];
        for (int b = 0; b < nb; b++)
            batches[b] = (x.narrow(0, (long)b * net.Batch, net.Batch).view(shape), y.narrow(0, (long)b * net.Batch, net.Batch));

        float Step(Tensor xb, Tensor yb)
        {
            using var scope = NewDisposeScope();
            sgd.zero_grad();
            var loss = criterion.call(model.call(xb), yb);
            loss.backward();
            sgd.step();
            return loss.item<float>();
        }

        long i = 0;
        float first = float.NaN, last = float.NaN;
        long t0 = Stopwatch.GetTimestamp();
        while (i < options.Warmup || Stopwatch.GetElapsedTime(t0).TotalSeconds < options.WarmupSeconds)
        {
            last = Step(batches[i % nb].X, batches[i % nb].Y);
            if (i == 0) first = last;
            i++;
        }
        t0 = Stopwatch.GetTimestamp();
        for (int s = 0; s < 5; s++, i++)
            last = Step(batches[i % nb].X, batches[i % nb].Y);
        long warmSteps = i;
        double perStep = Stopwatch.GetElapsedTime(t0).TotalSeconds / 5;
        steps = (int)Math.Max(1, Math.Min(steps, options.Budget / options.Repeats / perStep));
        var rates = new List<double>();
        double used = 0;
        for (int r = 0; r < options.Repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int s = 0; s < steps; s++, i++)
                last = Step(batches[i % nb].X, batches[i % nb].Y);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            rates.Add(net.Batch * (double)steps / seconds);
            used += seconds;
            if (used > options.Budget) break;
        }
        Json.Emit(new()
        {
            ["framework"] = "torchsharp", ["kind"] = "train", ["net"] = options.Net, ["title"] = net.Title,
            ["batch"] = net.Batch, ["steps"] = steps, ["warmup"] = warmSteps, ["repeats"] = rates.Count,
            ["samples_per_s"] = Json.Median(rates), ["all"] = rates,
            ["loss_first"] = first, ["loss_last"] = last, ["threads"] = options.Threads,
        });
    }

    /// <summary>
    /// An ordinary TorchSharp training loop, timed epoch by epoch from its start: every epoch draws a random permutation
    /// (torch.randperm), gathers each batch with index_select (the last batch may be partial, as a DataLoader without
    /// drop_last), steps, and accumulates the epoch's loss and accuracy.
    /// </summary>
    public static void Fit(Options options)
    {
        var net = Select(options);
        if (!options.Examples.TryGetValue(options.Net, out int examples))
            throw new ArgumentException($"--examples has no count for net {options.Net}.");
        var (x, y, description) = LoadData(options, examples);
        EmitInfo(options, description);
        manual_seed(42);
        var model = net.Build();
        model.train();
        var criterion = nn.CrossEntropyLoss();
        var sgd = optim.SGD(model.parameters(), LearningRate, momentum: net.Momentum);
        long n = x.shape[0];
        long[] shape = [-1, .. net.ExampleShape];

        var rates = new List<double>();
        var losses = new List<double>();
        long start = Stopwatch.GetTimestamp();
        double previous = 0;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            double lossSum = 0;
            long correct = 0;
            using (var epochScope = NewDisposeScope())
            {
                var order = randperm(n);
                for (long offset = 0; offset < n; offset += net.Batch)
                {
                    using var scope = NewDisposeScope();
                    long b = Math.Min(net.Batch, n - offset);
                    var index = order.narrow(0, offset, b);
                    var xb = x.index_select(0, index).view(shape);
                    var yb = y.index_select(0, index);
                    sgd.zero_grad();
                    var output = model.call(xb);
                    var loss = criterion.call(output, yb);
                    loss.backward();
                    sgd.step();
                    lossSum += loss.item<float>() * b;
                    correct += output.argmax(1).eq(yb).sum().item<long>();
                }
            }
            double end = Stopwatch.GetElapsedTime(start).TotalSeconds;
            rates.Add(n / (end - previous));
            previous = end;
            losses.Add(lossSum / n);
            _ = correct;
        }
        Json.Emit(new()
        {
            ["framework"] = "torchsharp", ["kind"] = "fit", ["net"] = options.Net, ["title"] = net.Title,
            ["batch"] = net.Batch, ["examples"] = n, ["epochs"] = rates.Count, ["epoch_samples_per_s"] = rates,
            ["loss_first_epoch"] = losses[0], ["loss_last_epoch"] = losses[^1], ["threads"] = options.Threads,
        });
    }

    /// <summary>Square SGEMM through torch.mm, calibrated and timed as peers.py's sgemm.</summary>
    public static void Sgemm(Options options)
    {
        manual_seed(7);
        foreach (int n in options.Sizes)
        {
            using var a = randn(n, n);
            using var b = randn(n, n);
            SgemmTiming.Measure("torchsharp", n, () =>
            {
                using var c = mm(a, b);
            }, options);
        }
    }
}
