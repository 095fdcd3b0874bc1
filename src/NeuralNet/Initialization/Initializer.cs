using System.Globalization;
using System.Numerics;

namespace NeuralNet.Initialization;

/// <summary>
/// A weight-initialization scheme: a distribution for weights given a layer's fan-in and fan-out. Biases are set to zero.
/// </summary>
/// <remarks>
/// <para>Usage: the weighted layers take a scheme in their constructors, e.g.
/// <c>new Dense&lt;float&gt;(784, 64, random: r, initializer: Initializer.HeNormal())</c>, and fill their weight tensor
/// with it once, in row-major order with <see cref="Fill"/>; the model builders pass theirs to each layer in layer order.
/// To re-initialize a model that exists, <c>Initializer.Gaussian(0.01).Initialize(model, new RandomGenerator(42))</c>
/// (an extension method beside the layers) visits its weighted layers in layer order. This namespace knows only
/// distributions and tensors, so the layers can use it and it never needs them.</para>
/// <para>Every sample is drawn in double precision from the <see cref="RandomGenerator"/>, one draw per element,
/// then rounded to <c>T</c>: the same seed gives bit-identical weights, and a float and a double model built from the
/// same seed hold the same values up to float rounding.</para>
/// <para>Schemes (fan-in and fan-out as reported by the module: In and Out for Dense, C·K·K and OC·K·K for Conv2D):
/// Gaussian N(mean, std²); Xavier uniform U(−a, a) with a = gain·√(6/(fanIn + fanOut)); Xavier normal
/// N(0, gain²·2/(fanIn + fanOut)); He normal N(0, 2/fanIn); He uniform U(−a, a) with a = √(6/fanIn); Zeros.</para>
/// </remarks>
public abstract class Initializer
{
    /// <summary>The scheme modules use in their constructors: <see cref="XavierUniform"/> with gain 1.</summary>
    public static Initializer Default { get; } = XavierUniform();

    /// <summary>Every weight zero. Useful for tests and for biases; a network initialized so cannot break symmetry.</summary>
    public static Initializer Zeros { get; } = new ZerosInitializer();

    /// <summary>Gaussian weights N(mean, std²), independent of the layer's fan.</summary>
    /// <param name="standardDeviation">σ, at least 0 (the reference systems use 0.1 and 0.01).</param>
    /// <param name="mean">μ, usually 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">σ is negative or not finite, or μ is not finite.</exception>
    public static Initializer Gaussian(double standardDeviation, double mean = 0.0)
    {
        if (!double.IsFinite(standardDeviation) || standardDeviation < 0)
            throw new ArgumentOutOfRangeException(nameof(standardDeviation), standardDeviation, "Initializer.Gaussian: the standard deviation must be finite and ≥ 0.");
        if (!double.IsFinite(mean))
            throw new ArgumentOutOfRangeException(nameof(mean), mean, "Initializer.Gaussian: the mean must be finite.");
        return new GaussianInitializer(standardDeviation, mean);
    }

    /// <summary>Xavier/Glorot uniform: U(−a, a), a = gain·√(6/(fanIn + fanOut)).</summary>
    /// <param name="gain">The scale factor, &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">The gain is not positive and finite.</exception>
    public static Initializer XavierUniform(double gain = 1.0) => new XavierInitializer(CheckGain(gain), uniform: true);

    /// <summary>Xavier/Glorot normal: N(0, σ²), σ = gain·√(2/(fanIn + fanOut)).</summary>
    /// <param name="gain">The scale factor, &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">The gain is not positive and finite.</exception>
    public static Initializer XavierNormal(double gain = 1.0) => new XavierInitializer(CheckGain(gain), uniform: false);

    /// <summary>He/Kaiming normal for ReLU networks: N(0, σ²), σ = √(2/fanIn).</summary>
    public static Initializer HeNormal() => new HeInitializer(uniform: false);

    /// <summary>He/Kaiming uniform for ReLU networks: U(−a, a), a = √(6/fanIn).</summary>
    public static Initializer HeUniform() => new HeInitializer(uniform: true);

    /// <summary>Draws one weight.</summary>
    /// <param name="random">The generator.</param>
    /// <param name="fanIn">The layer's fan-in, at least 1.</param>
    /// <param name="fanOut">The layer's fan-out, at least 1.</param>
    public abstract double Sample(RandomGenerator random, int fanIn, int fanOut);

    /// <summary>Fills a tensor in row-major order, one <see cref="Sample"/> per element.</summary>
    /// <param name="tensor">The tensor to overwrite.</param>
    /// <param name="fanIn">The fan-in, at least 1.</param>
    /// <param name="fanOut">The fan-out, at least 1.</param>
    /// <param name="random">The generator.</param>
    /// <exception cref="ArgumentOutOfRangeException">A fan is less than 1.</exception>
    public void Fill<T>(NdArray<T> tensor, int fanIn, int fanOut, RandomGenerator random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(fanIn, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(fanOut, 1);
        var data = tensor.AsSpan();
        for (int i = 0; i < data.Length; i++) data[i] = T.CreateChecked(Sample(random, fanIn, fanOut));
    }

    private static double CheckGain(double gain)
    {
        if (!double.IsFinite(gain) || gain <= 0)
            throw new ArgumentOutOfRangeException(nameof(gain), gain, "Initializer: the gain must be positive and finite.");
        return gain;
    }

    private static double Uniform(RandomGenerator random, double limit) => (2.0 * random.NextDouble() - 1.0) * limit;

    private sealed class ZerosInitializer : Initializer
    {
        public override double Sample(RandomGenerator random, int fanIn, int fanOut) => 0.0;

        public override string ToString() => "Zeros";
    }

    private sealed class GaussianInitializer(double std, double mean) : Initializer
    {
        public override double Sample(RandomGenerator random, int fanIn, int fanOut) => mean + std * random.NextGaussian();

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"Gaussian(std {std}, mean {mean})");
    }

    private sealed class XavierInitializer(double gain, bool uniform) : Initializer
    {
        public override double Sample(RandomGenerator random, int fanIn, int fanOut) => uniform
            ? Uniform(random, gain * Math.Sqrt(6.0 / (fanIn + fanOut)))
            : gain * Math.Sqrt(2.0 / (fanIn + fanOut)) * random.NextGaussian();

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"Xavier{(uniform ? "Uniform" : "Normal")}(gain {gain})");
    }

    private sealed class HeInitializer(bool uniform) : Initializer
    {
        public override double Sample(RandomGenerator random, int fanIn, int fanOut) => uniform
            ? Uniform(random, Math.Sqrt(6.0 / fanIn))
            : Math.Sqrt(2.0 / fanIn) * random.NextGaussian();

        public override string ToString() => uniform ? "HeUniform" : "HeNormal";
    }
}
