using System.Numerics;
using NeuralNet.Initialization;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Models;

/// <summary>
/// Builders for the MNIST networks of the five reference systems the library reproduces, and the library's own
/// <see cref="ModernCnn"/>: each returns a fresh, initialized <see cref="Sequential{T}"/> taking 28×28 images
/// (flattened to 784 features for the MLPs, (1, 28, 28) for the CNNs) and giving 10 class scores.
/// </summary>
/// <remarks>
/// <para>Every weight is drawn from the <see cref="RandomGenerator"/> passed in, in layer order, one draw per weight in
/// row-major order; biases start at zero. The same seed therefore gives bit-identical weights at any thread count, and
/// a builder draws nothing else, so the generator can go on to shuffle the data.</para>
/// <para>The initializer parameters default to each reference's own scheme where it states one; pass
/// <see cref="Initializer.Default"/> for the layers' default (Xavier uniform). The output parameter decides what the
/// last layer gives: <see cref="OutputActivation.Logits"/> for <c>SoftmaxCrossEntropyLoss</c>,
/// <see cref="OutputActivation.Softmax"/> for <c>CrossEntropyLoss</c>, <see cref="OutputActivation.Sigmoid"/> for
/// <c>MseLoss</c> (see <see cref="MlpBuilder.LossFor{T}"/>).</para>
/// </remarks>
public static class ReferenceNetworks
{
    private static readonly int[] ImageShape = [1, 28, 28];

    /// <summary>
    /// The Spark MLP (reference system 1, "spark-mlp"): 784-64-10, tanh hidden layer, sigmoid output, trained with
    /// squared error against one-hot labels.
    /// </summary>
    /// <param name="random">The generator the weights are drawn from.</param>
    /// <param name="initializer">The weight scheme; null for Xavier uniform (the reference states none).</param>
    /// <returns>Dense(784→64) → Tanh → Dense(64→10) → Sigmoid.</returns>
    public static Sequential<T> SparkMlp<T>(RandomGenerator random, Initializer? initializer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MlpBuilder.Build<T>(784, [64], 10, HiddenActivation.Tanh, OutputActivation.Sigmoid,
            initializer ?? Initializer.XavierUniform(), random);

    /// <summary>
    /// The NumPy MLP (reference system 2, "mlp"): 784-64-10 with a sigmoid hidden layer and a softmax output, weights
    /// N(0, 0.1²).
    /// </summary>
    /// <param name="random">The generator the weights are drawn from.</param>
    /// <param name="output">The last layer's output; the reference's softmax and cross-entropy are
    /// <see cref="OutputActivation.Logits"/> with the fused loss, or <see cref="OutputActivation.Softmax"/>.</param>
    /// <param name="initializer">The weight scheme; null for the reference's N(0, 0.1²).</param>
    /// <returns>Dense(784→64) → Sigmoid → Dense(64→10) [→ output activation].</returns>
    public static Sequential<T> Mlp<T>(RandomGenerator random, OutputActivation output = OutputActivation.Logits,
        Initializer? initializer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MlpBuilder.Build<T>(784, [64], 10, HiddenActivation.Sigmoid, output, initializer ?? Initializer.Gaussian(0.1), random);

    /// <summary>
    /// LeNet-5 (reference system 3, "lenet"): conv 6@5×5 → ReLU → maxpool 2 → conv 16@5×5 → ReLU → maxpool 2 →
    /// flatten 16·4·4 → dense 120 → ReLU → dense 84 → ReLU → dense 10.
    /// </summary>
    /// <param name="random">The generator the weights are drawn from.</param>
    /// <param name="output">The last layer's output.</param>
    /// <param name="initializer">The weight scheme; null for He normal, suited to the ReLU layers (the reference states none).</param>
    /// <returns>The network, input (1, 28, 28).</returns>
    public static Sequential<T> LeNet5<T>(RandomGenerator random, OutputActivation output = OutputActivation.Logits,
        Initializer? initializer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        var init = initializer ?? Initializer.HeNormal();
        return Network(output,
            new Conv2D<T>(1, 6, 5, random: random, initializer: init), new ReLU<T>(), new MaxPool2D<T>(2, 2),
            new Conv2D<T>(6, 16, 5, random: random, initializer: init), new ReLU<T>(), new MaxPool2D<T>(2, 2),
            new Flatten<T>(),
            new Dense<T>(16 * 4 * 4, 120, random: random, initializer: init), new ReLU<T>(),
            new Dense<T>(120, 84, random: random, initializer: init), new ReLU<T>(),
            new Dense<T>(84, 10, random: random, initializer: init));
    }

    /// <summary>
    /// The NumPy CNN (reference system 4, "small-cnn"): conv 8@3×3 without bias → sigmoid → maxpool 2 → dense 1352→20
    /// with sigmoid → dense 20→10.
    /// </summary>
    /// <param name="random">The generator the weights are drawn from.</param>
    /// <param name="hiddenWidth">The width of the hidden dense layer (the reference's 20), at least 1.</param>
    /// <param name="filterStandardDeviation">σ of the filters' N(0, σ²), the reference's 1/9; null keeps Xavier
    /// uniform filters.</param>
    /// <param name="output">The last layer's output.</param>
    /// <returns>The network, input (1, 28, 28).</returns>
    /// <remarks>Every layer is first drawn Xavier uniform in layer order (the reference does not say how its dense
    /// layers start), then the filters are drawn again from N(0, σ²); that order of draws is what a seed reproduces, so
    /// the filters are the one tensor a builder fills twice.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenWidth"/> is less than 1.</exception>
    public static Sequential<T> SmallCnn<T>(RandomGenerator random, int hiddenWidth = 20, double? filterStandardDeviation = 1.0 / 9,
        OutputActivation output = OutputActivation.Logits)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenWidth, 1);
        var xavier = Initializer.XavierUniform();
        var conv = new Conv2D<T>(1, 8, 3, bias: false, random: random, initializer: xavier);
        var model = Network(output,
            conv, new Sigmoid<T>(), new MaxPool2D<T>(2, 2), new Flatten<T>(),
            new Dense<T>(8 * 13 * 13, hiddenWidth, random: random, initializer: xavier), new Sigmoid<T>(),
            new Dense<T>(hiddenWidth, 10, random: random, initializer: xavier));
        if (filterStandardDeviation is { } sigma) Initializer.Gaussian(sigma).Initialize(conv, random);
        return model;
    }

    /// <summary>
    /// The minimal MLP module's network (reference system 5, "deep-mlp"): 784-400-100-25-10 with ReLU hidden layers,
    /// weights N(0, 0.01²); the reference ends in a softmax read by a cross-entropy clipped to [1e-5, 1 − 1e-5].
    /// </summary>
    /// <param name="random">The generator the weights are drawn from.</param>
    /// <param name="output">The last layer's output; <see cref="OutputActivation.Softmax"/> with
    /// <c>CrossEntropyLoss(1e-5)</c> is the reference's setup.</param>
    /// <param name="initializer">The weight scheme; null for the reference's N(0, 0.01²).</param>
    /// <returns>Dense(784→400) → ReLU → Dense(400→100) → ReLU → Dense(100→25) → ReLU → Dense(25→10) [→ output activation].</returns>
    public static Sequential<T> DeepMlp<T>(RandomGenerator random, OutputActivation output = OutputActivation.Logits,
        Initializer? initializer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MlpBuilder.Build<T>(784, [400, 100, 25], 10, HiddenActivation.ReLU, output, initializer ?? Initializer.Gaussian(0.01), random);

    /// <summary>
    /// The library's own MNIST CNN ("modern-cnn", not one of the reference systems): conv 5×5 → BN → ReLU → maxpool 2,
    /// conv 3×3 same → BN → ReLU → maxpool 2, conv 3×3 → BN → ReLU, flatten, dense → BN → ReLU → dropout → dense 10.
    /// Convolutions and the hidden dense layer have no bias: the batch normalization after each has its own shift β.
    /// Weights He normal.
    /// </summary>
    /// <param name="random">The generator the weights are drawn from; the dropout masks are drawn from it too, during
    /// training.</param>
    /// <param name="channels1">Filters of the first convolution (default 24), at least 1.</param>
    /// <param name="channels2">Filters of the second convolution (default 48), at least 1.</param>
    /// <param name="channels3">Filters of the third convolution (default 96), at least 1.</param>
    /// <param name="denseWidth">Width of the hidden dense layer (default 128), at least 1.</param>
    /// <param name="dropout">The dropout probability before the last layer (default 0.3), in [0, 1).</param>
    /// <param name="output">The last layer's output.</param>
    /// <returns>The network, input (1, 28, 28).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A width is less than 1, or the dropout probability is out of range.</exception>
    public static Sequential<T> ModernCnn<T>(RandomGenerator random, int channels1 = 24, int channels2 = 48, int channels3 = 96,
        int denseWidth = 128, double dropout = 0.3, OutputActivation output = OutputActivation.Logits)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels1, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels2, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels3, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(denseWidth, 1);
        var he = Initializer.HeNormal();
        return Network(output,
            new Conv2D<T>(1, channels1, 5, bias: false, random: random, initializer: he), new BatchNorm2d<T>(channels1), new ReLU<T>(),
            new MaxPool2D<T>(2, 2),                                                                     // 24 → 12
            Conv2D<T>.Same(channels1, channels2, 3, bias: false, random: random, initializer: he), new BatchNorm2d<T>(channels2), new ReLU<T>(),
            new MaxPool2D<T>(2, 2),                                                                     // 12 → 6
            new Conv2D<T>(channels2, channels3, 3, bias: false, random: random, initializer: he), new BatchNorm2d<T>(channels3), new ReLU<T>(), // 6 → 4
            new Flatten<T>(),
            new Dense<T>(channels3 * 4 * 4, denseWidth, bias: false, random: random, initializer: he), new BatchNorm1d<T>(denseWidth), new ReLU<T>(),
            new Dropout<T>(dropout, random),
            new Dense<T>(denseWidth, 10, random: random, initializer: he));
    }

    // Each weighted layer draws its own weights from the caller's generator as it is constructed, so the arguments'
    // order is the draw order; this only appends the output activation.
    private static Sequential<T> Network<T>(OutputActivation output, params Module<T>[] layers)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Module<T>[] all = output switch
        {
            OutputActivation.Logits => layers,
            OutputActivation.Softmax => [.. layers, new Softmax<T>()],
            OutputActivation.Sigmoid => [.. layers, new Sigmoid<T>()],
            _ => throw new ArgumentException($"ReferenceNetworks: unknown output activation {(int)output}.", nameof(output)),
        };
        return new Sequential<T>(ImageShape, all);
    }
}
