using System.Numerics;
using NeuralNet.Kernels;
using NeuralNet.Models;
using NeuralNet.Modules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Evaluation;

/// <summary>A predicted class and its probability.</summary>
/// <param name="Class">The arg-max class.</param>
/// <param name="Probability">Its probability: the softmax of the logits, the softmax output itself, or — for a sigmoid output —
/// the sigmoid score of the class (not normalized over classes).</param>
public readonly record struct Prediction(int Class, double Probability);

/// <summary>
/// Predicts classes with a trained model. Thread-safe: any number of threads may call it at once on one model.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Modules keep per-call buffers, so two forward passes must not run on one model at the same time. Every call here
/// takes a lock around the forward pass and copies the results out before releasing it: concurrent callers are serialized
/// and get exactly the answers they would get one after another. For throughput, predict in batches
/// (<see cref="Predict(NdArray{T}, int)"/>) rather than from many threads; the kernels already use
/// <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> threads inside a batch.</para>
/// <para>Do not train the model (or call it directly) while a predictor is in use from another thread, unless that code also
/// holds <see cref="SyncRoot"/>.</para>
/// <para>A batch of B rows and B single-example calls give the same classes; their probabilities may differ in the last bit
/// when a kernel's summation order depends on the batch size.</para>
/// </remarks>
public sealed class Predictor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dictionary<int, NdArray<T>> _buffers = [];
    private readonly int[] _perExampleShape;
    private readonly int _exampleLength;

    /// <summary>Creates a predictor.</summary>
    /// <param name="model">The trained model; output (N, classes).</param>
    /// <param name="output">What the model's last layer outputs (how to turn it into probabilities). Null (the default) reads it
    /// from the model (see <see cref="InferOutput"/>); a value that contradicts a Sequential's last layer is rejected.</param>
    /// <param name="inputShape">The per-example input shape; defaults to the <see cref="Sequential{T}.InputShape"/> of a Sequential.</param>
    /// <exception cref="ArgumentException">The input shape is missing, the model's output is not (classes), or
    /// <paramref name="output"/> contradicts the model's last layer.</exception>
    public Predictor(Module<T> model, OutputActivation? output = null, int[]? inputShape = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var implied = InferOutput(model);
        if (output is { } given && model is Sequential<T> && given != implied)
            throw new ArgumentException(
                $"Predictor: output {given} contradicts the model, whose last layer ({((Sequential<T>)model).Layers[^1].Name}) makes it {implied}; omit the argument to use the model's own.",
                nameof(output));
        inputShape ??= model is Sequential<T> s ? [.. s.InputShape]
            : throw new ArgumentException($"Predictor: give the per-example input shape of {model.Name} (only a Sequential knows its own).", nameof(inputShape));
        var outShape = model.GetOutputShape(inputShape);
        if (outShape.Length != 1)
            throw new ArgumentException($"Predictor: the model's per-example output must be (classes), got {NdArray<T>.ShapeToString(outShape)}.", nameof(model));
        Model = model;
        Output = output ?? implied;
        Classes = outShape[0];
        _perExampleShape = (int[])inputShape.Clone();
        _exampleLength = 1;
        foreach (int d in inputShape) _exampleLength *= d;
    }

    /// <summary>What a model's last layer outputs: <see cref="OutputActivation.Softmax"/> or <see cref="OutputActivation.Sigmoid"/>
    /// when a Sequential ends with that layer (nested chains are followed), otherwise <see cref="OutputActivation.Logits"/>.</summary>
    public static OutputActivation InferOutput(Module<T> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var last = model;
        while (last is Sequential<T> s) last = s.Layers[^1];
        return last switch
        {
            Modules.Activations.Softmax<T> => OutputActivation.Softmax,
            Modules.Activations.Sigmoid<T> => OutputActivation.Sigmoid,
            _ => OutputActivation.Logits,
        };
    }

    /// <summary>The model.</summary>
    public Module<T> Model { get; }

    /// <summary>How outputs become probabilities.</summary>
    public OutputActivation Output { get; }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The lock every call holds around the model; hold it too when using the model from other code concurrently.</summary>
    public object SyncRoot { get; } = new();

    /// <summary>Predicts one example.</summary>
    /// <param name="example">The example's values, row-major in the per-example shape (784 values for a flattened MNIST image).</param>
    /// <exception cref="ArgumentException">The length differs from the per-example size or a value is not finite.</exception>
    public Prediction Predict(ReadOnlySpan<T> example)
    {
        if (example.Length != _exampleLength)
            throw new ArgumentException($"Predictor: an example has {_exampleLength} values {NdArray<T>.ShapeToString(_perExampleShape)}, got {example.Length}.", nameof(example));
        CheckFinite(example, 0);
        lock (SyncRoot)
        {
            var x = Buffer(1);
            example.CopyTo(x.AsSpan());
            var y = Model.Forward(x, training: false);
            return Decide(y.AsSpan()[..Classes]);
        }
    }

    /// <summary>Predicts every example of a batch.</summary>
    /// <param name="inputs">(N, per-example shape…).</param>
    /// <param name="batchSize">Examples per forward pass.</param>
    /// <exception cref="ArgumentException">The shape does not fit or a value is not finite.</exception>
    public Prediction[] Predict(NdArray<T> inputs, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (inputs.Rank != _perExampleShape.Length + 1 || !inputs.Shape[1..].SequenceEqual(_perExampleShape))
            throw new ArgumentException($"Predictor: expected inputs (N, {string.Join(", ", _perExampleShape)}), got {inputs.ShapeString}.", nameof(inputs));
        int n = inputs.Dim(0);
        CheckFinite(inputs.AsSpan(), 0);
        var result = new Prediction[n];
        lock (SyncRoot)
        {
            for (int offset = 0; offset < n; offset += batchSize)
            {
                int b = Math.Min(batchSize, n - offset);
                var x = Buffer(b);
                inputs.AsSpan().Slice(offset * _exampleLength, b * _exampleLength).CopyTo(x.AsSpan());
                var y = Model.Forward(x, training: false).AsSpan();
                for (int i = 0; i < b; i++) result[offset + i] = Decide(y.Slice(i * Classes, Classes));
            }
        }
        return result;
    }

    /// <summary>The class probabilities of one example (see <see cref="Prediction.Probability"/> for sigmoid outputs).</summary>
    /// <exception cref="ArgumentException">The length differs from the per-example size or a value is not finite.</exception>
    public double[] PredictProbabilities(ReadOnlySpan<T> example)
    {
        if (example.Length != _exampleLength)
            throw new ArgumentException($"Predictor: an example has {_exampleLength} values, got {example.Length}.", nameof(example));
        CheckFinite(example, 0);
        var p = new double[Classes];
        lock (SyncRoot)
        {
            var x = Buffer(1);
            example.CopyTo(x.AsSpan());
            var y = Model.Forward(x, training: false).AsSpan()[..Classes];
            for (int c = 0; c < Classes; c++) p[c] = double.CreateTruncating(y[c]);
        }
        if (Output == OutputActivation.Logits) SoftmaxInPlace(p);
        return p;
    }

    /// <summary>Accuracy and confusion matrix of the model on labelled data (the loss is not computed: NaN).</summary>
    /// <exception cref="ArgumentException">Shapes or labels are invalid.</exception>
    public EvaluationResult Evaluate(NdArray<T> inputs, int[] labels, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var predictions = Predict(inputs, batchSize);
        if (labels.Length != predictions.Length)
            throw new ArgumentException($"Predictor: {predictions.Length} examples but {labels.Length} labels.", nameof(labels));
        var matrix = new ConfusionMatrix(Classes);
        var predicted = Array.ConvertAll(predictions, p => p.Class);
        matrix.Add(labels, predicted);
        return new EvaluationResult(double.NaN, matrix.Accuracy, matrix);
    }

    private Prediction Decide(ReadOnlySpan<T> row)
    {
        int c = TensorPrimitives.IndexOfMax(row);
        double top = double.CreateTruncating(row[c]);
        if (Output != OutputActivation.Logits) return new Prediction(c, top);
        double sum = 0;
        for (int j = 0; j < row.Length; j++) sum += Math.Exp(double.CreateTruncating(row[j]) - top);
        return new Prediction(c, 1.0 / sum);
    }

    private static void SoftmaxInPlace(double[] z)
    {
        double max = z.Max(), sum = 0;
        for (int i = 0; i < z.Length; i++) sum += z[i] = Math.Exp(z[i] - max);
        for (int i = 0; i < z.Length; i++) z[i] /= sum;
    }

    private void CheckFinite(ReadOnlySpan<T> values, int offset)
    {
        int i = Finiteness.FirstNonFinite(values);
        if (i >= 0)
            throw new ArgumentException($"Predictor: value {offset + i} (example {(offset + i) / _exampleLength}) is {values[i]}, not finite.", nameof(values));
    }

    private NdArray<T> Buffer(int b)
    {
        if (_buffers.TryGetValue(b, out var t)) return t;
        var shape = new int[_perExampleShape.Length + 1];
        shape[0] = b;
        _perExampleShape.CopyTo(shape, 1);
        // Only a few sizes are kept (1 and the batch sizes in use), so unbounded growth needs unbounded distinct sizes.
        if (_buffers.Count > 8) _buffers.Clear();
        return _buffers[b] = new NdArray<T>(shape);
    }
}
