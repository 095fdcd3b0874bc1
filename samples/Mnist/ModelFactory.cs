using NeuralNet;
using NeuralNet.Initialization;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Models;

namespace MnistSample;

/// <summary>Maps a preset to the library's network builders (<see cref="ReferenceNetworks"/>, <see cref="MlpBuilder"/>) and its loss.</summary>
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
                return ReferenceNetworks.LeNet5<float>(random, output, p.InitStd is { } sigma ? Initializer.Gaussian(sigma) : null);

            case Architecture.SmallCnn:
                return ReferenceNetworks.SmallCnn<float>(random, p.Hidden.Length > 0 ? p.Hidden[0] : 20, p.InitStd ?? 1.0 / 9, output);

            case Architecture.ModernCnn:
                if (p.Hidden.Length != 4)
                    throw new ArgumentException($"modern-cnn: --hidden needs four widths (three convolutions and the dense layer), got {p.Hidden.Length}.", nameof(p));
                return ReferenceNetworks.ModernCnn<float>(random, p.Hidden[0], p.Hidden[1], p.Hidden[2], p.Hidden[3], p.Dropout, output);

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
}
