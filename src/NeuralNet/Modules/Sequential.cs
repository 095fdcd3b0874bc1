using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>A chain of modules applied in order; itself a module, so chains nest.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Built from the per-example input shape: the constructor runs every layer's
/// <see cref="Module{T}.GetOutputShape"/> in turn, so a layer that does not fit its predecessor is reported at
/// construction, with the layer's index and type, the shape it expected and the shape it got.</para>
/// <para>Forward runs layers 0…L−1; Backward runs them in reverse and returns dL/dx of the first layer.</para>
/// <para>A model's input needs no gradient, so <see cref="Module{T}.ComputeInputGradient"/> of a Sequential defaults to
/// false and is passed on to its first layer at every backward pass, which lets the first layer skip its dx
/// computation. Set it to true to get dL/dx (gradient checks, nesting at position 0 of another chain). Layers after
/// the first always compute their input gradient, since their predecessors need it.</para>
/// </remarks>
public sealed class Sequential<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Module<T>[] _layers;
    private readonly int[] _inputShape;
    private readonly int[] _outputShape;
    private readonly Parameter<T>[] _parameters;
    private readonly string _expectedInput;

    /// <summary>Creates a chain and validates every layer's shape.</summary>
    /// <param name="inputShape">The per-example input shape, e.g. <c>[784]</c> or <c>[1, 28, 28]</c>.</param>
    /// <param name="layers">The layers, in order; at least one. A module instance may appear only once.</param>
    /// <exception cref="ArgumentException">A layer does not accept its predecessor's output shape (the message names the
    /// layer index, its type, the expected and the actual shape), the input shape is invalid, or a layer repeats.</exception>
    public Sequential(int[] inputShape, params Module<T>[] layers)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Length == 0)
            throw new ArgumentException("Sequential: at least one layer is required.", nameof(layers));
        if (inputShape.Length == 0 || Array.Exists(inputShape, d => d < 1))
            throw new ArgumentException(
                $"Sequential: the per-example input shape must be non-empty with positive dimensions, got {NdArray<T>.ShapeToString(inputShape)}.",
                nameof(inputShape));
        _inputShape = (int[])inputShape.Clone();
        _layers = (Module<T>[])layers.Clone();

        int[] shape = _inputShape;
        for (int i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i] ?? throw new ArgumentNullException(nameof(layers), $"Sequential: layer {i} is null.");
            for (int j = 0; j < i; j++)
            {
                if (ReferenceEquals(_layers[j], layer))
                    throw new ArgumentException(
                        $"Sequential: layer {i} ({layer.Name}) is the same instance as layer {j}; modules hold per-call state and cannot be reused.",
                        nameof(layers));
            }
            string source = i == 0 ? "the input" : $"layer {i - 1} ({_layers[i - 1].Name})";
            try
            {
                shape = layer.GetOutputShape(shape);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(
                    $"Sequential: layer {i} ({layer.Name}) does not accept the shape {NdArray<T>.ShapeToString(shape)} produced by {source}. {e.Message}",
                    nameof(layers), e);
            }
            if (i > 0) layer.ComputeInputGradient = true;
        }
        _outputShape = shape;
        _parameters = _layers.SelectMany(l => l.Parameters).ToArray();
        _expectedInput = $"(N, {ModuleChecks.Inner(_inputShape)})";
        ComputeInputGradient = false;
        _layers[0].ComputeInputGradient = false;
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Module<T>> Layers => _layers;

    /// <summary>The per-example input shape given at construction.</summary>
    public IReadOnlyList<int> InputShape => _inputShape;

    /// <summary>The per-example output shape of the last layer.</summary>
    public IReadOnlyList<int> OutputShape => _outputShape;

    /// <summary>Every layer's parameters, layer by layer in order, each layer's in its own order (e.g. weight, bias).</summary>
    public override IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <inheritdoc/>
    public override string Name => "Sequential";

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (!inputShape.SequenceEqual(_inputShape))
            throw new ArgumentException(
                $"Sequential: expected per-example input shape {NdArray<T>.ShapeToString(_inputShape)}, got {NdArray<T>.ShapeToString(inputShape)}.",
                nameof(inputShape));
        return (int[])_outputShape.Clone();
    }

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != _inputShape.Length + 1 || !input.Shape[1..].SequenceEqual(_inputShape))
            throw new ArgumentException(
                $"Sequential: expected input of shape {_expectedInput}, got {input.ShapeString}.", nameof(input));
        var x = input;
        for (int i = 0; i < _layers.Length; i++) x = _layers[i].Forward(x, training);
        return x;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        _layers[0].ComputeInputGradient = ComputeInputGradient;
        var g = outputGradient;
        for (int i = _layers.Length - 1; i >= 0; i--) g = _layers[i].Backward(g);
        return g;
    }

    /// <summary>Each layer on one line with its output shape.</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("Sequential, input ").Append(NdArray<T>.ShapeToString(_inputShape));
        int[] shape = _inputShape;
        for (int i = 0; i < _layers.Length; i++)
        {
            shape = _layers[i].GetOutputShape(shape);
            sb.AppendLine().Append("  [").Append(i).Append("] ").Append(_layers[i]).Append(" -> ").Append(NdArray<T>.ShapeToString(shape));
        }
        return sb.ToString();
    }
}
