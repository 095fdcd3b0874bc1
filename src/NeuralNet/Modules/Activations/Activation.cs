using System.Numerics;

namespace NeuralNet.Modules.Activations;

/// <summary>
/// The base of the parameter-free activations: the output has the input's shape, and the module keeps its output
/// buffer and input-gradient buffer between calls.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public abstract class Activation<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private NdArray<T>? _input;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;

    /// <summary>The per-example output shape equals the input shape.</summary>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        ValidateShape(inputShape, perExample: true);
        return inputShape.ToArray();
    }

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2)
            throw new ArgumentException($"{Name}: expected input of shape (N, …) with rank ≥ 2, got {input.ShapeString}.", nameof(input));
        ValidateShape(input.Shape, perExample: false);
        if (!InputKnownFinite) ModuleChecks.ThrowIfNotFinite(Name, nameof(input), input);
        var y = ModuleChecks.Ensure(ref _output, input.Shape);
        Apply(input, y);
        _input = input;
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(Name, outputGradient, _output);
        var dx = ModuleChecks.Ensure(ref _inputGradient, _output!.Shape);
        if (ComputeInputGradient) ApplyGradient(_input!, _output, outputGradient, dx);
        return dx;
    }

    /// <summary>Checks a shape beyond the common rank test; the default accepts every shape.</summary>
    /// <param name="shape">The per-example shape when <paramref name="perExample"/> is true (from <see cref="GetOutputShape"/>);
    /// otherwise the full batch shape (N, …) from <see cref="Forward"/>.</param>
    /// <param name="perExample">Whether <paramref name="shape"/> lacks the batch dimension.</param>
    /// <exception cref="ArgumentException">The shape does not fit.</exception>
    protected virtual void ValidateShape(ReadOnlySpan<int> shape, bool perExample)
    {
    }

    /// <summary>Computes y from x; both have the same shape.</summary>
    /// <param name="x">The input batch.</param>
    /// <param name="y">The destination, of x's shape.</param>
    protected abstract void Apply(NdArray<T> x, NdArray<T> y);

    /// <summary>Computes dx from the cached x and y and the incoming dy; all have the same shape.</summary>
    /// <param name="x">The last input.</param>
    /// <param name="y">The last output.</param>
    /// <param name="dy">dL/dy.</param>
    /// <param name="dx">The destination for dL/dx.</param>
    protected abstract void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx);
}
