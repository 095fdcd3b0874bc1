using NeuralNet.Initialization;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Models;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;

// This file is compiled into two assemblies: the benchmarks, and the tests (linked from
// tests/NeuralNet.Tests/NeuralNet.Tests.csproj), so the zero-allocation tests step exactly the networks benchmarked here.
namespace NeuralNet.Benchmarks;

/// <summary>
/// The networks of <see cref="ReferenceNetworks"/>, each with its reference system's loss, the library's
/// <see cref="Sgd{T}"/>, its batch size, and a few fixed synthetic batches to step on.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>spark-mlp</term><description>784-64-10, tanh hidden, sigmoid output, <see cref="MseLoss{T}"/> on one-hot
/// labels, lr 0.1. The Spark system's mini-batch is a 70% sample (~42,000 images); a step benchmark uses batch 1000.</description></item>
/// <item><term>mlp</term><description>784-64-10 sigmoid, logits into <see cref="SoftmaxCrossEntropyLoss{T}"/>
/// (softmax + cross-entropy, fused), weights N(0, 0.1²), batch 256, lr 0.001.</description></item>
/// <item><term>lenet</term><description>conv 6@5×5, ReLU, maxpool 2, conv 16@5×5, ReLU, maxpool 2, flatten 256,
/// dense 120 ReLU, dense 84 ReLU, dense 10; <see cref="SoftmaxCrossEntropyLoss{T}"/>, batch 64, lr 0.01.</description></item>
/// <item><term>small-cnn</term><description>conv 8@3×3 without bias (filters N(0, 1)/9), sigmoid, maxpool 2,
/// dense 1352→20 sigmoid, dense 20→10; softmax + cross-entropy fused in <see cref="SoftmaxCrossEntropyLoss{T}"/>,
/// batch 1, lr 0.01.</description></item>
/// <item><term>deep-mlp</term><description>784-400-100-25-10 ReLU, a <see cref="Softmax{T}"/> module and
/// <see cref="CrossEntropyLoss{T}"/> with ε = 1e-5, weights N(0, 0.01²), batch 30, lr 0.1.</description></item>
/// </list>
/// <para>Weights are drawn as <see cref="ReferenceNetworks"/> draws them by default, except LeNet-5, which keeps the
/// layers' default (Xavier uniform); biases are zero. The batches are synthetic MNIST-like
/// images (80% zero pixels, the rest uniform in (0, 1]) with uniform random labels, so the benchmark needs no data
/// files; the cost of a step does not depend on the pixel values.</para>
/// </remarks>
internal static class BenchmarkNetworks
{
    /// <summary>
    /// The names of the five reference networks, in the order of <see cref="ReferenceNetworks"/>, then the network of the
    /// <c>modern-cnn</c> preset (<see cref="ReferenceNetworks.ModernCnn{T}"/>: batch normalization, dropout).
    /// </summary>
    public static readonly string[] Names = ["spark-mlp", "mlp", "lenet", "small-cnn", "deep-mlp", "modern-cnn"];

    /// <summary>Builds one reference network with its loss, optimizer and <paramref name="batches"/> synthetic batches.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="batches">How many distinct batches <see cref="ReferenceNetwork.Step"/> cycles through.</param>
    /// <param name="seed">Seed of the weights and the data.</param>
    /// <param name="batchSize">The batch size of modern-cnn (default 16; the preset trains at 128); the reference networks keep theirs.</param>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    public static ReferenceNetwork Create(string name, int batches = 4, ulong seed = 42, int? batchSize = null)
        => CreateCore(name, batches, seed, batchSize);

    /// <summary>
    /// <see cref="Create"/> from a command-line name: <c>modern-cnn@128</c> builds modern-cnn at batch 128 (the preset's
    /// training batch); a plain name keeps the default batch.
    /// </summary>
    /// <param name="spec">A name of <see cref="Names"/>, optionally followed by <c>@</c> and a batch size.</param>
    public static ReferenceNetwork CreateNamed(string spec)
    {
        int at = spec.IndexOf('@');
        return at < 0 ? Create(spec) : Create(spec[..at], batchSize: int.Parse(spec[(at + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static ReferenceNetwork CreateCore(string name, int batches, ulong seed, int? batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        var rng = new RandomGenerator(seed);
        int[] image = [1, 28, 28];
        int[] flat = [784];
        switch (name)
        {
            case "spark-mlp":
                return new ReferenceNetwork(name, "Spark MLP 784-64-10 tanh/sigmoid, MSE", 1000, flat,
                    ReferenceNetworks.SparkMlp<float>(rng), new MseLoss<float>(), 0.1, batches, rng);
            case "mlp":
                return new ReferenceNetwork(name, "MLP 784-64-10 sigmoid, softmax-CE", 256, flat,
                    ReferenceNetworks.Mlp<float>(rng), new SoftmaxCrossEntropyLoss<float>(), 0.001, batches, rng);
            case "lenet":
                return new ReferenceNetwork(name, "LeNet-5, softmax-CE", 64, image,
                    ReferenceNetworks.LeNet5<float>(rng, initializer: Initializer.Default), new SoftmaxCrossEntropyLoss<float>(), 0.01, batches, rng);
            case "small-cnn":
                return new ReferenceNetwork(name, "Small CNN conv8@3x3-pool-20-10 sigmoid, softmax-CE", 1, image,
                    ReferenceNetworks.SmallCnn<float>(rng), new SoftmaxCrossEntropyLoss<float>(), 0.01, batches, rng);
            case "deep-mlp":
                return new ReferenceNetwork(name, "Deep MLP 784-400-100-25-10 ReLU, Softmax + CE(1e-5)", 30, flat,
                    ReferenceNetworks.DeepMlp<float>(rng, OutputActivation.Softmax), new CrossEntropyLoss<float>(1e-5), 0.1, batches, rng);
            case "modern-cnn":
                return new ReferenceNetwork(name, "modern-cnn: 3 conv + BN, dense + BN + dropout, softmax-CE", batchSize ?? 16, image,
                    ReferenceNetworks.ModernCnn<float>(rng), new SoftmaxCrossEntropyLoss<float>(), 0.05, batches, rng);
            default:
                throw new ArgumentException(
                    $"BenchmarkNetworks: unknown network '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name));
        }
    }
}

/// <summary>One reference network ready to train: model, loss, <see cref="Sgd{T}"/> and fixed batches.</summary>
internal sealed class ReferenceNetwork
{
    private readonly NdArray<float>[] _inputs;
    private readonly int[][] _labels;

    /// <summary>Creates the optimizer and the synthetic batches for <paramref name="model"/>.</summary>
    public ReferenceNetwork(string name, string title, int batchSize, int[] exampleShape, Sequential<float> model,
        Loss<float> loss, double learningRate, int batches, RandomGenerator rng)
    {
        Name = name;
        Title = title;
        BatchSize = batchSize;
        Model = model;
        Loss = loss;
        Optimizer = new Sgd<float>(model, learningRate);
        var shape = new int[exampleShape.Length + 1];
        shape[0] = batchSize;
        exampleShape.CopyTo(shape, 1);
        _inputs = new NdArray<float>[batches];
        _labels = new int[batches][];
        for (int b = 0; b < batches; b++)
        {
            var x = new NdArray<float>(shape);
            var data = x.AsSpan();
            for (int i = 0; i < data.Length; i++)
                data[i] = rng.NextDouble() < 0.8 ? 0f : (float)(1.0 - rng.NextDouble()); // in (0, 1]
            _inputs[b] = x;
            _labels[b] = new int[batchSize];
            for (int i = 0; i < batchSize; i++) _labels[b][i] = rng.NextInt(10);
        }
    }

    /// <summary>The short name, e.g. <c>lenet</c>.</summary>
    public string Name { get; }

    /// <summary>A one-line description of the architecture and loss.</summary>
    public string Title { get; }

    /// <summary>Examples per step.</summary>
    public int BatchSize { get; }

    /// <summary>The model.</summary>
    public Sequential<float> Model { get; }

    /// <summary>The loss on the model's output.</summary>
    public Loss<float> Loss { get; }

    /// <summary>Plain SGD (no momentum, no weight decay) over every parameter of <see cref="Model"/>.</summary>
    public Sgd<float> Optimizer { get; }

    /// <summary>The number of distinct batches <see cref="Step"/> cycles through.</summary>
    public int BatchCount => _inputs.Length;

    /// <summary>The fixed input batches, each (BatchSize, example shape…).</summary>
    public IReadOnlyList<NdArray<float>> Inputs => _inputs;

    /// <summary>The labels of each batch, BatchSize classes in [0, 10).</summary>
    public IReadOnlyList<int[]> Labels => _labels;

    /// <summary>One training step on batch <c>index mod BatchCount</c>: zero the gradients, forward, loss, backward, SGD update.</summary>
    /// <returns>The batch loss before the update.</returns>
    public float Step(long index)
    {
        int b = (int)(index % _inputs.Length);
        Optimizer.ZeroGrad();
        var output = Model.Forward(_inputs[b], training: true);
        float loss = Loss.Forward(output, _labels[b]);
        Model.Backward(Loss.Backward());
        Optimizer.Step();
        return loss;
    }
}
