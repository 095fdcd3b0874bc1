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
/// computation; <see cref="Backward"/> then returns null (never a tensor that looks like a gradient but was not computed).
/// Set it to true to get dL/dx (gradient checks, nesting at position 0 of another chain). Layers after the first always
/// compute their input gradient, since their predecessors need it.</para>
/// </remarks>
public sealed class Sequential<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Module<T>[] _layers;
    private readonly int[] _inputShape;
    private readonly int[] _outputShape;
    private readonly Parameter<T>[] _parameters;
    private readonly ModuleBuffer<T>[] _buffers;
    private readonly string _expectedInput;
    private readonly (string, Module<T>)[] _namedChildren;

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
        _buffers = _layers.SelectMany(l => l.Buffers).ToArray();
        _namedChildren = _layers.Select((l, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), l)).ToArray();
        _expectedInput = $"(N, {ModuleChecks.Inner(_inputShape)})";
        ComputeInputGradient = false;
        _layers[0].ComputeInputGradient = false;
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Module<T>> Layers => _layers;

    /// <summary>The layers named by their index: "0", "1", … (PyTorch's <c>nn.Sequential</c> names).</summary>
    public override IReadOnlyList<(string Name, Module<T> Module)> NamedChildren => _namedChildren;

    /// <summary>The per-example input shape given at construction.</summary>
    public IReadOnlyList<int> InputShape => _inputShape;

    /// <summary>The per-example output shape of the last layer.</summary>
    public IReadOnlyList<int> OutputShape => _outputShape;

    /// <summary>Every layer's parameters, layer by layer in order, each layer's in its own order (e.g. weight, bias).</summary>
    public override IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>Every layer's buffers, layer by layer in order (e.g. batch normalization's running statistics).</summary>
    public override IReadOnlyList<ModuleBuffer<T>> Buffers => _buffers;

    /// <inheritdoc/>
    public override string Name => "Sequential";

    /// <summary>A Keras-style summary: one row per layer (nested chains expanded, named "2.1") with its output shape and
    /// parameter counts, and the totals. <c>ToString()</c> of the result is a table.</summary>
    public ModelSummary Summary()
    {
        var rows = new List<ModelSummaryRow>();
        AddSummaryRows(this, "", _inputShape, rows);
        return new ModelSummary(Name, _inputShape, rows);
    }

    private static int[] AddSummaryRows(Sequential<T> chain, string prefix, int[] shape, List<ModelSummaryRow> rows)
    {
        for (int i = 0; i < chain._layers.Length; i++)
        {
            var layer = chain._layers[i];
            string name = prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (layer is Sequential<T> nested)
            {
                shape = AddSummaryRows(nested, name + ".", shape, rows);
                continue;
            }
            shape = layer.GetOutputShape(shape);
            long trainable = 0, other = 0;
            foreach (var p in layer.Parameters) trainable += p.Value.Length;
            foreach (var b in layer.Buffers) other += b.Value.Length;
            rows.Add(new ModelSummaryRow(name, layer.ToString() ?? layer.Name, shape, trainable, other));
        }
        return shape;
    }

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
        for (int i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i];
            // Every layer checks its input for NaN and infinity (naming itself) unless it is known finite: the output of a
            // layer that checked its own input and cannot create a non-finite value.
            layer.InputKnownFinite = i > 0 && _layers[i - 1].PreservesFiniteness;
            try
            {
                x = layer.Forward(x, training);
            }
            finally
            {
                layer.InputKnownFinite = false;
            }
        }
        return x;
    }

    /// <summary>Back-propagates through every layer in reverse, adding into the parameter gradients.</summary>
    /// <param name="outputGradient">dL/dy, of the shape the last <see cref="Forward"/> returned.</param>
    /// <returns>dL/dx when <see cref="Module{T}.ComputeInputGradient"/> is true; null when it is false (the default), since the
    /// first layer then skips that computation.</returns>
    /// <exception cref="InvalidOperationException">No forward pass has been run.</exception>
    /// <exception cref="ArgumentException">The gradient's shape differs from the last output's.</exception>
    public override NdArray<T>? Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        _layers[0].ComputeInputGradient = ComputeInputGradient;
        var g = outputGradient;
        var completed = LayerBackwardCompleted;
        for (int i = _layers.Length - 1; i > 0; i--)
        {
            g = _layers[i].Backward(g)
                ?? throw new InvalidOperationException($"Sequential: layer {i} ({_layers[i].Name}) returned no input gradient; a nested Sequential after position 0 must compute it.");
            completed?.Invoke(i);
        }
        var dx = _layers[0].Backward(g);
        completed?.Invoke(0);
        return ComputeInputGradient ? dx : null;
    }

    /// <summary>Called by <see cref="Backward"/> right after layer <c>i</c>'s backward pass, with <c>i</c> running from the last
    /// layer down to 0: from then on the gradients of that layer's parameters are final for this pass.</summary>
    /// <remarks>Lets a data-parallel strategy start reducing the last layers' gradients while the earlier layers are still
    /// back-propagating (as PyTorch's DistributedDataParallel does with autograd hooks). Null (the default) costs nothing;
    /// the callback runs on the calling thread and must not allocate if the step is to stay allocation-free.</remarks>
    public Action<int>? LayerBackwardCompleted { get; set; }

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
