using System.Numerics;

namespace NeuralNet;

/// <summary>A trainable parameter: a value tensor and the gradient tensor of the same shape that backward passes add into.</summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class Parameter<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a parameter with a zero gradient of the same shape as <paramref name="value"/>.</summary>
    /// <param name="name">A short name unique within its module, e.g. <c>weight</c> or <c>bias</c>.</param>
    /// <param name="value">The value tensor; it is used as is, not copied.</param>
    public Parameter(string name, Tensor<T> value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        Name = name;
        Value = value;
        Gradient = new Tensor<T>(value.ShapeArray());
    }

    /// <summary>The parameter's name within its module (<c>weight</c>, <c>bias</c>).</summary>
    public string Name { get; }

    /// <summary>The current value.</summary>
    public Tensor<T> Value { get; }

    /// <summary>The accumulated gradient of the loss with respect to <see cref="Value"/>.</summary>
    public Tensor<T> Gradient { get; }

    /// <summary>Sets the gradient to zero.</summary>
    public void ZeroGrad() => Gradient.Clear();

    /// <inheritdoc/>
    public override string ToString() => $"{Name}{Value.ShapeString}";
}
