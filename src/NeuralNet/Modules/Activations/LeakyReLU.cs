using System.Numerics;

namespace NeuralNet.Modules.Activations;

/// <summary>The leaky rectifier, elementwise: y = x for x &gt; 0, else negative_slope·x (PyTorch's <c>nn.LeakyReLU</c>).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>Any shape (N, …). Backward: dx = dy where x &gt; 0, else negative_slope·dy (the slope side at exactly 0).</remarks>
public sealed class LeakyReLU<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _slope;

    /// <summary>Creates the activation.</summary>
    /// <param name="negativeSlope">The slope for negative inputs; PyTorch's default 0.01. Must be finite.</param>
    /// <exception cref="ArgumentOutOfRangeException">The slope is not finite.</exception>
    public LeakyReLU(double negativeSlope = 0.01)
    {
        if (!double.IsFinite(negativeSlope)) throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "LeakyReLU: the slope must be finite.");
        NegativeSlope = negativeSlope;
        _slope = T.CreateChecked(negativeSlope);
    }

    /// <summary>The slope applied to negative inputs.</summary>
    public double NegativeSlope { get; }

    /// <inheritdoc/>
    internal override bool PreservesFiniteness => Math.Abs(NegativeSlope) <= 1; // α·x stays finite

    /// <inheritdoc/>
    public override string Name => "LeakyReLU";

    /// <inheritdoc/>
    protected override void Apply(NdArray<T> x, NdArray<T> y) => Kernels.Cpu.LeakyReluForward<T>(y.AsSpan(), x.Data, _slope);

    /// <inheritdoc/>
    protected override void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx) =>
        Kernels.Cpu.LeakyReluBackward<T>(dx.AsSpan(), dy.Data, x.Data, _slope);
}
