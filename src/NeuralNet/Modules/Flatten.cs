using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>Flattens every example to a vector: (N, d1, d2, …) → (N, d1·d2·…).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Row-major, so an NCHW image flattens channel by channel, row by row. Forward and backward return views that
/// share storage with their argument (no copy); the view objects are cached, so steady-state calls allocate nothing.</para>
/// </remarks>
public sealed class Flatten<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private NdArray<T>? _input;
    private NdArray<T>? _outputView;
    private NdArray<T>? _gradientView;
    private NdArray<T>? _lastGradient;
    private NdArray<T>? _spareOutputView, _spareGradientView, _spareLastGradient;

    /// <inheritdoc/>
    public override string Name => "Flatten";

    /// <inheritdoc/>
    internal override bool PreservesFiniteness => true;

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length < 1)
            throw new ArgumentException("Flatten: expected a per-example input shape of rank ≥ 1, got ().", nameof(inputShape));
        long size = 1;
        foreach (int d in inputShape)
        {
            if (d < 1)
                throw new ArgumentException($"Flatten: expected positive dimensions, got {NdArray<T>.ShapeToString(inputShape)}.", nameof(inputShape));
            size *= d;
        }
        return [checked((int)size)];
    }

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2)
            throw new ArgumentException($"Flatten: expected input of shape (N, …) with rank ≥ 2, got {input.ShapeString}.", nameof(input));
        if (!InputKnownFinite) ModuleChecks.ThrowIfNotFinite("Flatten", nameof(input), input);
        int n = input.Dim(0);
        if (_outputView is null || !ReferenceEquals(_outputView.Data, input.Data) || _outputView.Dim(0) != n)
        {
            // Two views are kept, so an epoch that alternates two batch sizes (a smaller last batch) reuses both.
            if (_spareOutputView is not null && ReferenceEquals(_spareOutputView.Data, input.Data) && _spareOutputView.Dim(0) == n)
                (_outputView, _spareOutputView) = (_spareOutputView, _outputView);
            else
                (_outputView, _spareOutputView) = (input.Reshape(n, input.Length / n), _outputView);
        }
        _input = input;
        return _outputView;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch("Flatten", outputGradient, _outputView);
        var x = _input!;
        if (_gradientView is null || !ReferenceEquals(_lastGradient, outputGradient) || !_gradientView.HasShape(x.Shape))
        {
            if (_spareGradientView is not null && ReferenceEquals(_spareLastGradient, outputGradient) && _spareGradientView.HasShape(x.Shape))
            {
                (_gradientView, _spareGradientView) = (_spareGradientView, _gradientView);
                (_lastGradient, _spareLastGradient) = (_spareLastGradient, _lastGradient);
            }
            else
            {
                (_gradientView, _spareGradientView) = (outputGradient.Reshape(x.ShapeArray()), _gradientView);
                (_lastGradient, _spareLastGradient) = (outputGradient, _lastGradient);
            }
        }
        return _gradientView;
    }
}
