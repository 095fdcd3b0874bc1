using System.Numerics;

namespace NeuralNet.Data;

/// <summary>
/// Seeded random affine augmentation of image batches (N, C, H, W): every example gets its own small rotation, scaling and
/// translation about the image centre, resampled bilinearly (outside the image reads 0). Set it as
/// <see cref="Training.TrainerOptions.Augmentation"/> to transform every training batch, a fresh draw per example per epoch.
/// </summary>
/// <remarks>
/// <para>Per example, in batch order, four uniform draws from the generator: the angle θ ∈ [−MaxRotationDegrees,
/// +MaxRotationDegrees], the scale s ∈ [1 − MaxScaleChange, 1 + MaxScaleChange], the shifts tx, ty ∈ [−MaxTranslation,
/// +MaxTranslation] pixels. The output pixel p takes the input at c + (s·R(θ))⁻¹·(p − c − t), c the centre.</para>
/// <para>The draws happen on the calling thread in that fixed order, and only then are the examples warped, in parallel on
/// the kernel threads; so the augmented batch, and everything downstream, is the same bits at any thread count.</para>
/// <para>Not thread-safe: it keeps one buffer of per-example coefficients, reused (no allocation once it has grown to the
/// largest batch).</para>
/// </remarks>
public sealed class ImageAugmentation
{
    private double[] _coefficients = [];

    /// <summary>The largest shift in pixels along each axis; 2 by default.</summary>
    public double MaxTranslation { get; init; } = 2;

    /// <summary>The largest rotation in degrees either way; 10 by default.</summary>
    public double MaxRotationDegrees { get; init; } = 10;

    /// <summary>The largest relative change of size (0.1: scales from 0.9 to 1.1); 0.1 by default.</summary>
    public double MaxScaleChange { get; init; } = 0.1;

    /// <summary>Draws a transform for every example of <paramref name="source"/> and writes the warped batch to <paramref name="destination"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="source">Images (N, C, H, W).</param>
    /// <param name="destination">The output, of the source's shape (not the same tensor).</param>
    /// <param name="random">The generator; exactly 4·N draws are taken from it, in example order.</param>
    /// <exception cref="ArgumentException">The shapes differ, are not (N, C, H, W), the tensors are the same, or a setting is out of range.</exception>
    public void Apply<T>(NdArray<T> source, NdArray<T> destination, RandomGenerator random) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(random);
        Validate();
        if (source.Rank != 4 || !destination.HasShape(source.Shape))
            throw new ArgumentException($"ImageAugmentation: expected source and destination of one shape (N, C, H, W), got {source.ShapeString} and {destination.ShapeString}.", nameof(source));
        if (ReferenceEquals(source, destination))
            throw new ArgumentException("ImageAugmentation: the destination must be another tensor than the source.", nameof(destination));
        int n = source.Dim(0), h = source.Dim(2), w = source.Dim(3);
        int needed = n * Kernels.Cpu.AffineCoefficients;
        if (_coefficients.Length < needed) _coefficients = new double[needed];
        double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
        for (int e = 0; e < n; e++)
        {
            double theta = (2 * random.NextDouble() - 1) * MaxRotationDegrees * Math.PI / 180;
            double scale = 1 + (2 * random.NextDouble() - 1) * MaxScaleChange;
            double tx = (2 * random.NextDouble() - 1) * MaxTranslation;
            double ty = (2 * random.NextDouble() - 1) * MaxTranslation;
            // Inverse of p' = s·R·(p − c) + c + t: p = R⁻¹·(p' − c − t)/s + c, with R⁻¹ = [[cos, sin], [−sin, cos]] in (x, y).
            double cos = Math.Cos(theta) / scale, sin = Math.Sin(theta) / scale;
            var k = _coefficients.AsSpan(e * Kernels.Cpu.AffineCoefficients, Kernels.Cpu.AffineCoefficients);
            double ox = -cx - tx, oy = -cy - ty;
            k[0] = cos; k[1] = sin; k[2] = cos * ox + sin * oy + cx;
            k[3] = -sin; k[4] = cos; k[5] = -sin * ox + cos * oy + cy;
        }
        Kernels.Cpu.AffineWarp<T>(destination.Data, source.Data, _coefficients.AsSpan(0, needed), n, source.Dim(1), h, w);
    }

    /// <summary>Throws when a setting is negative, not finite, or the scale change is 1 or more.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!(MaxTranslation >= 0 && double.IsFinite(MaxTranslation)))
            throw new ArgumentException($"ImageAugmentation: MaxTranslation must be finite and ≥ 0, got {MaxTranslation}.", nameof(MaxTranslation));
        if (!(MaxRotationDegrees >= 0 && MaxRotationDegrees <= 180))
            throw new ArgumentException($"ImageAugmentation: MaxRotationDegrees must lie in [0, 180], got {MaxRotationDegrees}.", nameof(MaxRotationDegrees));
        if (!(MaxScaleChange >= 0 && MaxScaleChange < 1))
            throw new ArgumentException($"ImageAugmentation: MaxScaleChange must lie in [0, 1), got {MaxScaleChange}.", nameof(MaxScaleChange));
    }
}
