using System.Numerics;
using NeuralNet.Initialization;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Models;

/// <summary>The activation after every hidden layer of an MLP.</summary>
public enum HiddenActivation
{
    /// <summary>max(0, x).</summary>
    ReLU,

    /// <summary>1 / (1 + e^−x).</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,
}

/// <summary>What the last layer of a classifier outputs.</summary>
public enum OutputActivation
{
    /// <summary>Raw scores (no activation), for <see cref="SoftmaxCrossEntropyLoss{T}"/>; probabilities are their softmax.</summary>
    Logits,

    /// <summary>A <see cref="Softmax{T}"/> layer, for <see cref="CrossEntropyLoss{T}"/>.</summary>
    Softmax,

    /// <summary>A <see cref="Sigmoid{T}"/> layer, for <see cref="MseLoss{T}"/> against one-hot targets (the Spark reference setup).</summary>
    Sigmoid,
}

/// <summary>Builds multi-layer perceptrons from a list of hidden sizes.</summary>
/// <remarks>
/// <para>The result is <c>Sequential(inputSize → Dense(h₁) → act → … → Dense(h_k) → act → Dense(classes) [→ output activation])</c>.
/// E.g. hidden sizes [64] give 784-64-10; [900, 400], [400, 100, 25] and [900, 784] give deeper networks.</para>
/// <para>Weights come from <c>initializer</c> drawn from <c>random</c> in layer order (biases zero); a null initializer
/// uses He normal for ReLU and Xavier uniform for sigmoid and tanh. The same seed gives bit-identical weights.</para>
/// </remarks>
public static class MlpBuilder
{
    /// <summary>Builds an MLP.</summary>
    /// <param name="inputSize">Features per example (784 for MNIST), at least 1.</param>
    /// <param name="hiddenSizes">The width of each hidden layer, each at least 1; may be empty (a linear classifier).</param>
    /// <param name="classes">The number of outputs, at least 1.</param>
    /// <param name="hidden">The hidden activation.</param>
    /// <param name="output">The output activation.</param>
    /// <param name="initializer">The weight initializer, or null for the default of the hidden activation.</param>
    /// <param name="random">The generator for the weights.</param>
    /// <exception cref="ArgumentException">A size is less than 1.</exception>
    public static Sequential<T> Build<T>(int inputSize, IReadOnlyList<int> hiddenSizes, int classes, HiddenActivation hidden,
        OutputActivation output, Initializer? initializer, RandomGenerator random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        ArgumentNullException.ThrowIfNull(random);
        if (inputSize < 1) throw new ArgumentException($"MlpBuilder: the input size must be at least 1, got {inputSize}.", nameof(inputSize));
        if (classes < 1) throw new ArgumentException($"MlpBuilder: the number of classes must be at least 1, got {classes}.", nameof(classes));
        for (int i = 0; i < hiddenSizes.Count; i++)
            if (hiddenSizes[i] < 1)
                throw new ArgumentException($"MlpBuilder: hidden size {i} must be at least 1, got {hiddenSizes[i]}.", nameof(hiddenSizes));
        if (!Enum.IsDefined(hidden)) throw new ArgumentException($"MlpBuilder: unknown hidden activation {(int)hidden}.", nameof(hidden));
        if (!Enum.IsDefined(output)) throw new ArgumentException($"MlpBuilder: unknown output activation {(int)output}.", nameof(output));

        initializer ??= hidden == HiddenActivation.ReLU ? Initializer.HeNormal() : Initializer.XavierUniform();
        // Each Dense draws its weights from `random` as it is constructed, so construction order is the draw order.
        var layers = new List<Module<T>>();
        int width = inputSize;
        foreach (int h in hiddenSizes)
        {
            layers.Add(new Dense<T>(width, h, random: random, initializer: initializer));
            layers.Add(hidden switch
            {
                HiddenActivation.ReLU => new ReLU<T>(),
                HiddenActivation.Sigmoid => new Sigmoid<T>(),
                _ => new Tanh<T>(),
            });
            width = h;
        }
        layers.Add(new Dense<T>(width, classes, random: random, initializer: initializer));
        if (output == OutputActivation.Softmax) layers.Add(new Softmax<T>());
        else if (output == OutputActivation.Sigmoid) layers.Add(new Sigmoid<T>());
        return new Sequential<T>([inputSize], [.. layers]);
    }

    /// <summary>The loss that matches an output activation: fused softmax cross-entropy for logits, cross-entropy for
    /// softmax, halved squared error for sigmoid.</summary>
    public static Loss<T> LossFor<T>(OutputActivation output) where T : unmanaged, IFloatingPointIeee754<T> => output switch
    {
        OutputActivation.Logits => new SoftmaxCrossEntropyLoss<T>(),
        OutputActivation.Softmax => new CrossEntropyLoss<T>(),
        OutputActivation.Sigmoid => new MseLoss<T>(),
        _ => throw new ArgumentException($"MlpBuilder: unknown output activation {(int)output}.", nameof(output)),
    };
}
