using System.Globalization;
using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Optimization;

/// <summary>
/// Gradient clipping, the step between the backward pass and the optimizer's update: by global norm
/// (<c>torch.nn.utils.clip_grad_norm_</c>) and by value (<c>clip_grad_value_</c>).
/// </summary>
/// <remarks>
/// <para>In a hand-written loop: <c>model.Backward(loss.Backward()); GradientClipping.ClipByNorm(optimizer.Parameters, 1.0);
/// optimizer.Step();</c>. The <see cref="Training.Trainer{T}"/> does the same when <see cref="Training.TrainerOptions.ClipGradientValue"/>
/// or <see cref="Training.TrainerOptions.ClipGradientNorm"/> is set (value first, then norm).</para>
/// <para>Both run on the calling thread in a fixed order, so they are deterministic, and allocate nothing.</para>
/// </remarks>
public static class GradientClipping
{
    /// <summary>The global norm of the gradients: the norm of the vector of every gradient's norm (torch's definition).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="parameters">The parameters whose gradients are measured.</param>
    /// <param name="normType">2 for the Euclidean norm or <see cref="double.PositiveInfinity"/> for the largest magnitude.</param>
    /// <returns>The norm (0 without parameters; NaN or infinity when a gradient holds such values).</returns>
    /// <exception cref="ArgumentException"><paramref name="normType"/> is neither 2 nor infinity.</exception>
    public static double TotalNorm<T>(IReadOnlyList<Parameter<T>> parameters, double normType = 2) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        bool infinity = CheckNormType(normType);
        double total = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            ReadOnlySpan<T> g = parameters[i].Gradient.AsSpan();
            if (g.IsEmpty) continue;
            if (infinity)
            {
                // MaxMagnitude propagates NaN, as torch's abs().max() does.
                double largest = double.CreateTruncating(T.Abs(TensorPrimitives.MaxMagnitude(g)));
                total = double.IsNaN(largest) || largest > total ? largest : total;
            }
            else
            {
                // Each gradient's norm in T (torch: torch.norm(g) in the gradient's dtype), then the norm of those norms.
                double norm = double.CreateTruncating(TensorPrimitives.Norm(g));
                total += norm * norm;
            }
        }
        return infinity ? total : Math.Sqrt(total);
    }

    /// <summary>Scales every gradient by min(1, maxNorm / (totalNorm + 10⁻⁶)) so their global norm is at most about
    /// <paramref name="maxNorm"/>, exactly as <c>torch.nn.utils.clip_grad_norm_</c> (which multiplies even when the factor is 1).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="parameters">The parameters whose gradients are clipped in place.</param>
    /// <param name="maxNorm">The largest allowed norm, positive and finite.</param>
    /// <param name="normType">2 or <see cref="double.PositiveInfinity"/>.</param>
    /// <returns>The global norm before clipping (<see cref="TotalNorm{T}"/>), e.g. for logging.</returns>
    /// <exception cref="ArgumentException"><paramref name="maxNorm"/> is not positive and finite, or the norm type is unsupported.</exception>
    public static double ClipByNorm<T>(IReadOnlyList<Parameter<T>> parameters, double maxNorm, double normType = 2) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(double.IsFinite(maxNorm) && maxNorm > 0))
            throw new ArgumentException($"GradientClipping: the maximum norm must be positive and finite, got {Format(maxNorm)}.", nameof(maxNorm));
        double total = TotalNorm(parameters, normType);
        // torch computes the factor in the gradients' dtype; so do we, from the norm rounded to T.
        T totalT = T.CreateTruncating(total);
        T coefficient = T.CreateTruncating(maxNorm) / (totalT + T.CreateTruncating(1e-6));
        if (coefficient > T.One) coefficient = T.One;
        for (int i = 0; i < parameters.Count; i++)
        {
            Span<T> g = parameters[i].Gradient.AsSpan();
            TensorPrimitives.Multiply(g, coefficient, g);
        }
        return total;
    }

    /// <summary>Clamps every gradient element to [−<paramref name="clipValue"/>, <paramref name="clipValue"/>]
    /// (<c>torch.nn.utils.clip_grad_value_</c>).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="parameters">The parameters whose gradients are clipped in place.</param>
    /// <param name="clipValue">The bound, positive and finite.</param>
    /// <exception cref="ArgumentException"><paramref name="clipValue"/> is not positive and finite.</exception>
    public static void ClipByValue<T>(IReadOnlyList<Parameter<T>> parameters, double clipValue) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(double.IsFinite(clipValue) && clipValue > 0))
            throw new ArgumentException($"GradientClipping: the clip value must be positive and finite, got {Format(clipValue)}.", nameof(clipValue));
        T high = T.CreateTruncating(clipValue), low = -high;
        for (int i = 0; i < parameters.Count; i++)
        {
            Span<T> g = parameters[i].Gradient.AsSpan();
            TensorPrimitives.Min(g, high, g);
            TensorPrimitives.Max(g, low, g);
        }
    }

    private static bool CheckNormType(double normType)
    {
        if (normType == 2) return false;
        if (double.IsPositiveInfinity(normType)) return true;
        throw new ArgumentException($"GradientClipping: the norm type must be 2 or infinity, got {Format(normType)}.", nameof(normType));
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
