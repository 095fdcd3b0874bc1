using System.Numerics;
using NeuralNet.Initialization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules;

/// <summary>A fully connected layer: y = x·Wᵀ + b.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Shapes: x (N, In), weight W (Out, In) — one row per output unit, row-major — bias b (Out), y (N, Out).</para>
/// <para>Forward: y = x·Wᵀ + b, one GEMM plus a row-wise bias add.</para>
/// <para>Backward, for dy = dL/dy (N, Out): dW += dyᵀ·x (Out, In), db += Σ_rows dy (Out), dx = dy·W (N, In).
/// The GEMMs read the operands transposed in place; no transposed copy is made.</para>
/// <para>Default initialization: weights Xavier/Glorot uniform, U(−a, a) with a = √(6/(In + Out)); biases zero.</para>
/// </remarks>
public sealed class Dense<T> : Module<T>, IWeightedModule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly string _label;
    private NdArray<T>? _input;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;

    /// <summary>Creates a dense layer with zero biases and weights drawn from <paramref name="initializer"/> (Xavier uniform by default).</summary>
    /// <param name="inFeatures">The input width In, at least 1.</param>
    /// <param name="outFeatures">The output width Out, at least 1.</param>
    /// <param name="bias">Whether the layer adds a learned bias.</param>
    /// <param name="random">The source of the initial weights. Null draws from the process-wide
    /// <see cref="RandomGenerator.Default"/> (seeded by <see cref="RandomGenerator.SetDefaultSeed"/>), so layers of equal shape
    /// differ and a program that builds its layers in the same order gets the same weights.</param>
    /// <param name="initializer">The weight scheme, drawn from <paramref name="random"/> once per weight in row-major
    /// order; null for <see cref="Initializer.Default"/> (Xavier uniform). Pass <see cref="Initializer.Zeros"/> for weights
    /// that are about to be overwritten (loading), which draws nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public Dense(int inFeatures, int outFeatures, bool bias = true, RandomGenerator? random = null, Initializer? initializer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        HasBias = bias;
        Weight = new Parameter<T>("weight", new NdArray<T>(outFeatures, inFeatures));
        Bias = bias ? new Parameter<T>("bias", new NdArray<T>(outFeatures)) : null;
        _parameters = Bias is null ? [Weight] : [Weight, Bias];
        _label = $"Dense({inFeatures} -> {outFeatures})";
        var scheme = initializer ?? Initializer.Default;
        RandomGenerator.Use(random, r => scheme.Initialize(this, r));
    }

    /// <summary>The input width In.</summary>
    public int InFeatures { get; }

    /// <summary>The output width Out.</summary>
    public int OutFeatures { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The weight W, shape (Out, In).</summary>
    public Parameter<T> Weight { get; }

    /// <summary>The bias b, shape (Out), or null when <see cref="HasBias"/> is false.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public int FanIn => InFeatures;

    /// <inheritdoc/>
    public int FanOut => OutFeatures;

    /// <inheritdoc/>
    public override string Name => "Dense";

    /// <summary>The weight, then the bias if any.</summary>
    public override IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length != 1 || inputShape[0] != InFeatures)
            throw new ArgumentException(
                $"{_label}: expected per-example input shape ({InFeatures}), got {NdArray<T>.ShapeToString(inputShape)}.",
                nameof(inputShape));
        return [OutFeatures];
    }

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        ModuleChecks.ThrowIfWrongShape(_label, nameof(input), input, [InFeatures]);
        if (!InputKnownFinite) ModuleChecks.ThrowIfNotFinite(_label, nameof(input), input);
        int n = input.Dim(0);
        var y = ModuleChecks.Ensure(ref _output, n, [OutFeatures]);
        Kernels.Cpu.Gemm<T>(false, true, n, OutFeatures, InFeatures,
            input.Data, InFeatures, Weight.Value.Data, InFeatures, y.Data, OutFeatures, accumulate: false);
        if (Bias is not null)
        {
            ReadOnlySpan<T> b = Bias.Value.Data;
            var ys = y.AsSpan();
            for (int r = 0; r < n; r++)
            {
                var row = ys.Slice(r * OutFeatures, OutFeatures);
                TensorPrimitives.Add(row, b, row);
            }
        }
        _input = input;
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(_label, outputGradient, _output);
        var x = _input!;
        int n = x.Dim(0);
        T[] dy = outputGradient.Data;
        // A freshly zeroed gradient is written rather than added to: the same values (0 + x = x), one pass less.
        var dW = Weight.GradientForAccumulation(out bool overwriteWeight);
        Kernels.Cpu.Gemm<T>(true, false, OutFeatures, InFeatures, n,
            dy, OutFeatures, x.Data, InFeatures, dW.Data, InFeatures, accumulate: !overwriteWeight);
        if (Bias is not null)
        {
            var db = Bias.GradientForAccumulation(out bool overwriteBias).AsSpan();
            int r = 0;
            if (overwriteBias)
            {
                new ReadOnlySpan<T>(dy, 0, OutFeatures).CopyTo(db); // n ≥ 1: a tensor has no empty dimension
                r = 1;
            }
            for (; r < n; r++)
                TensorPrimitives.Add(db, new ReadOnlySpan<T>(dy, r * OutFeatures, OutFeatures), db);
        }
        var dx = ModuleChecks.Ensure(ref _inputGradient, n, [InFeatures]);
        if (ComputeInputGradient)
        {
            Kernels.Cpu.Gemm<T>(false, false, n, InFeatures, OutFeatures,
                dy, OutFeatures, Weight.Value.Data, InFeatures, dx.Data, InFeatures, accumulate: false);
        }
        return dx;
    }

    /// <inheritdoc/>
    public override string ToString() => _label;
}
