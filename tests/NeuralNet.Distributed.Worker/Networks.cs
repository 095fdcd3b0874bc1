using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Distributed.Worker;

/// <summary>The reference networks (see /work/shared/REFERENCE_SYSTEMS.md), built with a seeded generator.</summary>
internal static class Networks
{
    public static readonly string[] Names = ["mlp", "deep-mlp", "lenet", "small-cnn", "modern-cnn"];

    public static string Title(string name) => name switch
    {
        "mlp" => "mlp 784-64-10",
        "deep-mlp" => "deep-mlp 784-400-100-25-10",
        "lenet" => "lenet-5",
        "small-cnn" => "small-cnn",
        "modern-cnn" => "modern-cnn 24-48-96-128",
        _ => throw new ArgumentException($"Worker: unknown network '{name}'."),
    };

    public static Sequential<float> Build(string name, RandomGenerator random) => name switch
    {
        "mlp" => new Sequential<float>([784], new Dense<float>(784, 64, random: random), new Sigmoid<float>(), new Dense<float>(64, 10, random: random)),
        "deep-mlp" => new Sequential<float>([784],
            new Dense<float>(784, 400, random: random), new ReLU<float>(),
            new Dense<float>(400, 100, random: random), new ReLU<float>(),
            new Dense<float>(100, 25, random: random), new ReLU<float>(),
            new Dense<float>(25, 10, random: random)),
        "lenet" => new Sequential<float>([1, 28, 28],
            new Conv2D<float>(1, 6, 5, random: random), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Conv2D<float>(6, 16, 5, random: random), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Flatten<float>(),
            new Dense<float>(256, 120, random: random), new ReLU<float>(),
            new Dense<float>(120, 84, random: random), new ReLU<float>(),
            new Dense<float>(84, 10, random: random)),
        "small-cnn" => new Sequential<float>([1, 28, 28],
            new Conv2D<float>(1, 8, 3, bias: false, random: random), new Sigmoid<float>(), new MaxPool2D<float>(2, 2),
            new Flatten<float>(),
            new Dense<float>(1352, 20, random: random), new Sigmoid<float>(),
            new Dense<float>(20, 10, random: random)),
        "modern-cnn" => ModernCnn<float>(random, 24, 48, 96, 128),
        _ => throw new ArgumentException($"Worker: unknown network '{name}'."),
    };

    /// <summary>samples/Mnist's modern-cnn (ModelFactory.cs) with the given widths, for any element type.</summary>
    public static Sequential<T> ModernCnn<T>(RandomGenerator random, int c1, int c2, int c3, int dense)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var scratch = new RandomGenerator(0);
        var model = new Sequential<T>([1, 28, 28],
            new Conv2D<T>(1, c1, 5, bias: false, random: scratch), new BatchNorm2d<T>(c1), new ReLU<T>(),
            new MaxPool2D<T>(2, 2),
            Conv2D<T>.Same(c1, c2, 3, bias: false, random: scratch), new BatchNorm2d<T>(c2), new ReLU<T>(),
            new MaxPool2D<T>(2, 2),
            new Conv2D<T>(c2, c3, 3, bias: false, random: scratch), new BatchNorm2d<T>(c3), new ReLU<T>(),
            new Flatten<T>(),
            new Dense<T>(c3 * 4 * 4, dense, bias: false, random: scratch), new BatchNorm1d<T>(dense), new ReLU<T>(),
            new Dropout<T>(0.3, random),
            new Dense<T>(dense, 10, random: scratch));
        NeuralNet.Initialization.Initializer.HeNormal().Initialize(model, random);
        return model;
    }
}
