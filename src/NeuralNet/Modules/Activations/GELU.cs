using System.Numerics;

namespace NeuralNet.Modules.Activations;

/// <summary>The Gaussian error linear unit in its tanh approximation (PyTorch's <c>nn.GELU(approximate='tanh')</c>).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Any shape (N, …). y = 0.5·x·(1 + t) with t = tanh(√(2/π)·(x + 0.044715·x³)).</para>
/// <para>Backward: dx = dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)), with t kept from the forward pass.</para>
/// </remarks>
public sealed class GELU<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[] _tanh = [];

    /// <summary>Always <c>tanh</c>: the approximation this module computes (PyTorch's <c>approximate</c> argument).</summary>
    public string Approximate => "tanh";

    /// <inheritdoc/>
    public override string Name => "GELU";

    /// <inheritdoc/>
    protected override void Apply(NdArray<T> x, NdArray<T> y)
    {
        if (_tanh.Length != x.Length) _tanh = new T[x.Length];
        Kernels.Cpu.GeluForward<T>(y.AsSpan(), _tanh, x.Data);
    }

    /// <inheritdoc/>
    protected override void ApplyGradient(NdArray<T> x, NdArray<T> y, NdArray<T> dy, NdArray<T> dx) =>
        Kernels.Cpu.GeluBackward<T>(dx.AsSpan(), dy.Data, x.Data, _tanh);
}
