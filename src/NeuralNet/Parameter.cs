using System.Numerics;

namespace NeuralNet;

/// <summary>A trainable parameter: a value tensor and the gradient tensor of the same shape that backward passes add into.</summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class Parameter<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a parameter with a zero gradient of the same shape as <paramref name="value"/>.</summary>
    /// <param name="name">A short name unique within its module, e.g. <c>weight</c> or <c>bias</c>.</param>
    /// <param name="value">The value tensor; it is used as is, not copied.</param>
    public Parameter(string name, NdArray<T> value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        Name = name;
        Value = value;
        _gradient = new NdArray<T>(value.ShapeArray());
    }

    private readonly NdArray<T> _gradient;
    private bool _gradientPendingZero; // ZeroGrad was called and nothing has touched the gradient since

    /// <summary>The parameter's name within its module (<c>weight</c>, <c>bias</c>).</summary>
    public string Name { get; }

    /// <summary>The current value.</summary>
    public NdArray<T> Value { get; }

    /// <summary>The accumulated gradient of the loss with respect to <see cref="Value"/>.</summary>
    /// <remarks>Always the same tensor. After <see cref="ZeroGrad"/> it reads as zeros: it is cleared here, on first access.</remarks>
    public NdArray<T> Gradient
    {
        get
        {
            if (_gradientPendingZero)
            {
                _gradient.Clear();
                _gradientPendingZero = false;
            }
            return _gradient;
        }
    }

    /// <summary>Sets the gradient to zero.</summary>
    /// <remarks>
    /// The clearing is deferred (like PyTorch's <c>zero_grad(set_to_none=True)</c>): the next backward pass of a module that
    /// computes the whole gradient at once (<see cref="Modules.Dense{T}"/>) writes it instead of adding to zeros, which saves a
    /// pass over the memory and a read; any other access through <see cref="Gradient"/> clears it first. A reference to the
    /// gradient tensor kept from before this call shows the old values until then.
    /// </remarks>
    public void ZeroGrad() => _gradientPendingZero = true;

    /// <summary>
    /// The gradient for a backward pass that either adds to it or, when <paramref name="overwrite"/> comes back true (the
    /// gradient was zeroed and not touched since), must write every element itself instead.
    /// </summary>
    internal NdArray<T> GradientForAccumulation(out bool overwrite)
    {
        overwrite = _gradientPendingZero;
        _gradientPendingZero = false;
        return _gradient;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}{Value.ShapeString}";
}
