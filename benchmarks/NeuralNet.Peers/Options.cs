using System.Globalization;

namespace NeuralNet.Peers;

/// <summary>Command-line options, the same names and defaults as benchmarks/peers/peers.py.</summary>
internal sealed class Options
{
    public string Mode { get; private set; } = "";
    public string Net { get; private set; } = "a";
    public Dictionary<string, int> Steps { get; } = new() { ["a"] = 500, ["b"] = 300, ["c"] = 100, ["d"] = 3000, ["e"] = 60 };
    public int Warmup { get; private set; } = 50;
    public double WarmupSeconds { get; private set; } = 2.0;
    public int Repeats { get; private set; } = 5;
    public double Budget { get; private set; } = 30.0;
    public int Threads { get; private set; } = 2;
    public string Data { get; private set; } = "mnist";
    /// <summary>--mnist-dir, or null: NeuralNet.Peers finds data/mnist upwards with Mnist.FindDataDirectory, and
    /// TorchSharpPeer (which links this file but does not reference NeuralNet) reads data/mnist under the current directory.</summary>
    public string? MnistDirectory { get; private set; }
    public int[] Sizes { get; private set; } = [128, 256, 512, 1024];
    /// <summary>Epochs of the fit mode.</summary>
    public int Epochs { get; private set; } = 8;
    /// <summary>Training examples per epoch of the fit mode, per network (the first N of the data set).</summary>
    public Dictionary<string, int> Examples { get; } = new() { ["a"] = 60000, ["b"] = 15000, ["c"] = 6400, ["d"] = 3000, ["e"] = 6400 };
    /// <summary>The folder of the multicore-JIT profiles (NeuralNet.Peers only), or null: no profile.</summary>
    public string? JitProfileDirectory { get; private set; }

    public static Options Parse(string[] args)
    {
        if (args.Length == 0)
            throw new ArgumentException("usage: train --net a|b|c|d|e [options] | fit --net a|b|c|d|e [--epochs 8] [--examples a=60000,...] [options] | sgemm [--sizes 128,256] [options]");
        var o = new Options { Mode = args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            string name = args[i];
            if (i + 1 >= args.Length)
                throw new ArgumentException($"option {name} needs a value.");
            string value = args[++i];
            switch (name)
            {
                case "--net": o.Net = value; break;
                case "--steps": ParsePerNet(name, value, o.Steps); break;
                case "--examples": ParsePerNet(name, value, o.Examples); break;
                case "--epochs": o.Epochs = PositiveInt(name, value); break;
                case "--warmup": o.Warmup = PositiveInt(name, value); break;
                case "--warmup-seconds": o.WarmupSeconds = Double(name, value); break;
                case "--repeats": o.Repeats = PositiveInt(name, value); break;
                case "--budget": o.Budget = Double(name, value); break;
                case "--threads": o.Threads = PositiveInt(name, value); break;
                case "--data":
                    if (value is not ("mnist" or "random"))
                        throw new ArgumentException($"--data expects mnist or random, got '{value}'.");
                    o.Data = value;
                    break;
                case "--mnist-dir": o.MnistDirectory = value; break;
                case "--jit-profile": o.JitProfileDirectory = value; break;
                case "--sizes":
                    o.Sizes = value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => PositiveInt(name, s)).ToArray();
                    break;
                default: throw new ArgumentException($"unknown option {name}.");
            }
        }
        return o;
    }

    private static void ParsePerNet(string option, string value, Dictionary<string, int> into)
    {
        foreach (var kv in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = kv.Split('=');
            if (parts.Length != 2)
                throw new ArgumentException($"{option} expects net=count pairs like a=500,b=300, got '{kv}'.");
            into[parts[0]] = PositiveInt(option, parts[1]);
        }
    }

    private static int PositiveInt(string option, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1
            ? v
            : throw new ArgumentException($"{option} expects a positive integer, got '{value}'.");

    private static double Double(string option, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && double.IsFinite(v)
            ? v
            : throw new ArgumentException($"{option} expects a non-negative number, got '{value}'.");
}
