// QuickStart: a 784-64-10 multilayer perceptron trained on 10,000 MNIST images with a hand-written
// mini-batch SGD loop, using only the public NeuralNet API. Usage: QuickStart [mnist-directory]
using System.Diagnostics;
using NeuralNet;
using NeuralNet.Data;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

const int TrainCount = 10_000, BatchSize = 32, Epochs = 5;
const float LearningRate = 0.1f;

string directory = args.Length > 0 ? args[0] : Mnist.FindDataDirectory();   // data/mnist above the program or the current directory
var stopwatch = Stopwatch.StartNew();
var mnist = Mnist.Load(directory);
var train = mnist.Train.Take(TrainCount);
var test = mnist.Test;
Console.WriteLine($"Loaded {train.Count:N0} training and {test.Count:N0} test images from {directory} in {stopwatch.Elapsed.TotalSeconds:F1} s");

// One seeded generator for every random number: the same seed gives the same run.
var random = new RandomGenerator(42);
var model = new Sequential<float>([784],
    new Dense<float>(784, 64, random: random),
    new Tanh<float>(),
    new Dense<float>(64, 10, random: random));
var loss = new SoftmaxCrossEntropyLoss<float>();
Console.WriteLine(model);

var x = new NdArray<float>(BatchSize, 784);
var labels = new int[BatchSize];
var order = Enumerable.Range(0, train.Count).ToArray();
int batches = train.Count / BatchSize; // the last partial batch is dropped; the order changes every epoch

for (int epoch = 1; epoch <= Epochs; epoch++)
{
    random.Shuffle<int>(order);
    double sum = 0;
    for (int b = 0; b < batches; b++)
    {
        train.CopyBatch<float>(order.AsSpan(b * BatchSize, BatchSize), x.AsSpan(), labels);
        model.ZeroGrad();
        var logits = model.Forward(x, training: true);
        sum += loss.Forward(logits, labels);
        model.Backward(loss.Backward());
        foreach (var p in model.Parameters)
            TensorPrimitives.MultiplyAdd(p.Gradient.AsSpan(), -LearningRate, p.Value.AsSpan(), p.Value.AsSpan()); // p −= lr·∇p
    }
    Console.WriteLine($"epoch {epoch}: mean training loss {sum / batches:F4}");
}

// Evaluate on all 10,000 test images, 1,000 at a time.
const int EvalBatch = 1000;
var testX = new NdArray<float>(EvalBatch, 784);
var testLabels = new int[EvalBatch];
var indices = new int[EvalBatch];
int correct = 0;
for (int start = 0; start + EvalBatch <= test.Count; start += EvalBatch)
{
    for (int i = 0; i < EvalBatch; i++) indices[i] = start + i;
    test.CopyBatch<float>(indices, testX.AsSpan(), testLabels);
    var logits = model.Forward(testX);
    for (int i = 0; i < EvalBatch; i++)
        if (TensorPrimitives.IndexOfMax<float>(logits.AsSpan().Slice(i * 10, 10)) == testLabels[i]) correct++;
}
Console.WriteLine($"test accuracy: {100.0 * correct / test.Count:F2}% ({correct:N0}/{test.Count:N0}) after {stopwatch.Elapsed.TotalSeconds:F1} s");
