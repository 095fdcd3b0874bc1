using NeuralNet;
using NeuralNet.Initialization;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Training;

namespace MnistSample;

/// <summary>Builds a preset's network and loss with the library's modules.</summary>
public static class ModelFactory
{
    /// <summary>The per-example input shape the preset's network takes: [784] for MLPs, [1, 28, 28] for CNNs.</summary>
    public static int[] InputShape(Preset p) => p.Architecture == Architecture.Mlp ? [784] : [1, 28, 28];

    /// <summary>What the network's last layer outputs, which decides the loss and how probabilities are read.</summary>
    public static OutputActivation Output(Preset p) => p.Loss switch
    {
        LossKind.SoftmaxCrossEntropy => OutputActivation.Logits,
        LossKind.CrossEntropy => OutputActivation.Softmax,
        _ => p.OutputActivation == "softmax" ? OutputActivation.Softmax : OutputActivation.Sigmoid,
    };

    /// <summary>Builds the network; every weight is drawn from <paramref name="random"/>, so the seed fixes it bit for bit.</summary>
    public static Sequential<float> Build(Preset p, RandomGenerator random)
    {
        var output = Output(p);
        switch (p.Architecture)
        {
            case Architecture.Mlp:
                var hidden = p.Activation switch
                {
                    "relu" => HiddenActivation.ReLU,
                    "sigmoid" => HiddenActivation.Sigmoid,
                    _ => HiddenActivation.Tanh,
                };
                return MlpBuilder.Build<float>(784, p.Hidden, 10, hidden, output, p.InitStd is { } std ? Initializer.Gaussian(std) : null, random);

            case Architecture.LeNet:
            {
                var scratch = new RandomGenerator(0);
                var model = new Sequential<float>([1, 28, 28],
                    new Conv2D<float>(1, 6, 5, random: scratch), new ReLU<float>(), new MaxPool2D<float>(2, 2),
                    new Conv2D<float>(6, 16, 5, random: scratch), new ReLU<float>(), new MaxPool2D<float>(2, 2),
                    new Flatten<float>(),
                    new Dense<float>(16 * 4 * 4, 120, random: scratch), new ReLU<float>(),
                    new Dense<float>(120, 84, random: scratch), new ReLU<float>(),
                    new Dense<float>(84, 10, random: scratch));
                (p.InitStd is { } sigma ? Initializer.Gaussian(sigma) : Initializer.HeNormal()).Initialize(model, random);
                return WithOutput(model, output);
            }

            case Architecture.SmallCnn:
            {
                var scratch = new RandomGenerator(0);
                int width = p.Hidden.Length > 0 ? p.Hidden[0] : 20;
                var conv = new Conv2D<float>(1, 8, 3, bias: false, random: scratch);
                var model = new Sequential<float>([1, 28, 28],
                    conv, new Sigmoid<float>(), new MaxPool2D<float>(2, 2), new Flatten<float>(),
                    new Dense<float>(8 * 13 * 13, width, random: scratch), new Sigmoid<float>(),
                    new Dense<float>(width, 10, random: scratch));
                // Filters from N(0, 1)/9 as in the reference; the dense layers Xavier (the reference's own is unspecified).
                Initializer.XavierUniform().Initialize(model, random);
                Initializer.Gaussian(p.InitStd ?? 1.0 / 9).Initialize(conv, random);
                return WithOutput(model, output);
            }

            case Architecture.ModernCnn:
            {
                if (p.Hidden.Length != 4)
                    throw new ArgumentException($"modern-cnn: --hidden needs four widths (three convolutions and the dense layer), got {p.Hidden.Length}.", nameof(p));
                int c1 = p.Hidden[0], c2 = p.Hidden[1], c3 = p.Hidden[2], dense = p.Hidden[3];
                var scratch = new RandomGenerator(0);
                // Convolutions without bias: the batch normalization after each has its own shift β.
                var model = new Sequential<float>([1, 28, 28],
                    new Conv2D<float>(1, c1, 5, bias: false, random: scratch), new BatchNorm2d<float>(c1), new ReLU<float>(),
                    new MaxPool2D<float>(2, 2),                                                            // 24 → 12
                    Conv2D<float>.Same(c1, c2, 3, bias: false, random: scratch), new BatchNorm2d<float>(c2), new ReLU<float>(),
                    new MaxPool2D<float>(2, 2),                                                            // 12 → 6
                    new Conv2D<float>(c2, c3, 3, bias: false, random: scratch), new BatchNorm2d<float>(c3), new ReLU<float>(), // 6 → 4
                    new Flatten<float>(),
                    new Dense<float>(c3 * 4 * 4, dense, bias: false, random: scratch), new BatchNorm1d<float>(dense), new ReLU<float>(),
                    new Dropout<float>(p.Dropout, random),
                    new Dense<float>(dense, 10, random: scratch));
                Initializer.HeNormal().Initialize(model, random);
                return WithOutput(model, output);
            }

            default:
                throw new ArgumentException($"Unknown architecture {p.Architecture}.", nameof(p));
        }
    }

    /// <summary>The preset's loss.</summary>
    public static Loss<float> Loss(Preset p) => p.Loss switch
    {
        LossKind.Mse => new MseLoss<float>(),
        LossKind.CrossEntropy => new CrossEntropyLoss<float>(p.CrossEntropyEpsilon),
        _ => new SoftmaxCrossEntropyLoss<float>(),
    };

    /// <summary>A one-line description such as <c>Dense(784→64) → Sigmoid → Dense(64→10)</c>.</summary>
    public static string Describe(Sequential<float> model) => string.Join(" → ", model.Layers.Select(l => l switch
    {
        Dense<float> d => $"Dense({d.Weight.Value.Dim(1)}→{d.Weight.Value.Dim(0)})",
        Conv2D<float> c => $"Conv2D({c.Weight.Value.Dim(1)}→{c.Weight.Value.Dim(0)}, {c.Weight.Value.Dim(2)}×{c.Weight.Value.Dim(3)}{(c.Bias is null ? ", no bias" : "")})",
        _ => l.Name,
    }));

    private static Sequential<float> WithOutput(Sequential<float> model, OutputActivation output) => output switch
    {
        OutputActivation.Logits => model,
        OutputActivation.Softmax => new Sequential<float>(model.InputShape.ToArray(), [.. model.Layers, new Softmax<float>()]),
        _ => new Sequential<float>(model.InputShape.ToArray(), [.. model.Layers, new Sigmoid<float>()]),
    };
}
