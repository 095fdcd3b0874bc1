using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules;

/// <summary>Inverted dropout: in training each element is zeroed with probability p and the survivors scaled by 1/(1 − p).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Any shape (N, …). Training: y = x·mask with mask[i] ∈ {0, 1/(1 − p)}; backward dx = dy·mask. Evaluation: y = x,
/// dx = dy (PyTorch's <c>nn.Dropout</c>).</para>
/// <para>The mask: every training forward draws one 64-bit key from the module's <see cref="RandomGenerator"/>; element i
/// is dropped when the high 32 bits of a SplitMix64 hash of (key, i) are below round(p·2³²). So the masks follow from the
/// generator's seed alone, bit for bit at any thread count, and a step consumes one draw whatever the tensor size. Give
/// the layer the trainer's generator and checkpoints (which save that generator's state) resume the same masks.</para>
/// </remarks>
public sealed class Dropout<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RandomGenerator _random;
    private readonly ulong _threshold;
    private readonly T _scale;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;
    private NdArray<T>? _mask;
    private bool _training;

    /// <summary>Creates a dropout layer.</summary>
    /// <param name="p">The probability of zeroing an element, in [0, 1).</param>
    /// <param name="random">The generator the masks are drawn from (one draw per training step); null uses one seeded with 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1).</exception>
    public Dropout(double p = 0.5, RandomGenerator? random = null)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must lie in [0, 1).");
        P = p;
        _random = random ?? new RandomGenerator(0);
        _threshold = Kernels.Cpu.DropoutThreshold(p);
        _scale = T.CreateChecked(1.0 / (1.0 - p));
        _label = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Dropout(p {p})");
    }

    private readonly string _label;

    /// <summary>The probability p of zeroing an element during training.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public override string Name => "Dropout";

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) => inputShape.ToArray();

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2)
            throw new ArgumentException($"{this}: expected input of shape (N, …) with rank ≥ 2, got {input.ShapeString}.", nameof(input));
        var y = ModuleChecks.Ensure(ref _output, input.Shape);
        _training = training;
        if (training)
        {
            var mask = ModuleChecks.Ensure(ref _mask, input.Shape);
            Kernels.Cpu.DropoutMask<T>(mask.Data, _random.NextUInt64(), _threshold, _scale);
            TensorPrimitives.Multiply<T>(input.Data, mask.Data, y.Data);
        }
        else
        {
            input.Data.AsSpan().CopyTo(y.Data);
        }
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(ToString(), outputGradient, _output);
        var dx = ModuleChecks.Ensure(ref _inputGradient, _output!.Shape);
        if (!ComputeInputGradient) return dx;
        if (_training) TensorPrimitives.Multiply<T>(outputGradient.Data, _mask!.Data, dx.Data);
        else outputGradient.Data.AsSpan().CopyTo(dx.Data);
        return dx;
    }

    /// <inheritdoc/>
    public override string ToString() => _label;
}
