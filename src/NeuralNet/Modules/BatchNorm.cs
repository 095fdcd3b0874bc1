using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Modules;

/// <summary>
/// Batch normalization, the shared implementation of <see cref="BatchNorm1d{T}"/> (features) and
/// <see cref="BatchNorm2d{T}"/> (image channels), with PyTorch's semantics.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Per channel c, over the M values of that channel in the batch (M = N for (N, C), M = N·H·W for (N, C, H, W)):</para>
/// <para>Training: μ = mean, σ² = biased variance (÷M), x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β. The running statistics then
/// move by the momentum m: running_mean ← (1 − m)·running_mean + m·μ, running_var ← (1 − m)·running_var + m·σ²·M/(M − 1)
/// (the unbiased variance, as PyTorch keeps), and num_batches_tracked counts the batches. M = 1 throws, as in PyTorch.</para>
/// <para>Evaluation: y = γ·(x − running_mean)/√(running_var + ε) + β; the statistics are constants.</para>
/// <para>Backward after a training forward: dγ += Σ dy·x̂, dβ += Σ dy, dx = γ/(M·√(σ² + ε))·(M·dy − Σdy − x̂·Σ(dy·x̂)).
/// After an evaluation forward: dx = γ·dy/√(running_var + ε), the same dγ and dβ with x̂ from the running statistics.</para>
/// <para>Parameters (when <see cref="Affine"/>): <c>weight</c> γ (C), initially 1, and <c>bias</c> β (C), initially 0.
/// Buffers (<see cref="Module{T}.Buffers"/>): <c>running_mean</c> (C) initially 0, <c>running_var</c> (C) initially 1,
/// <c>num_batches_tracked</c> (1), a count stored in the element type (exact up to 2²⁴ batches in float).</para>
/// <para>Each channel is computed by one thread in a fixed order, so results are the same bits for any thread count.</para>
/// </remarks>
public abstract class BatchNorm<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly ModuleBuffer<T>[] _buffers;
    private NdArray<T>? _output;
    private NdArray<T>? _inputGradient;
    private NdArray<T>? _xhat;
    private NdArray<T>? _input;        // a training forward over planes (S > 1) keeps its input instead of x̂
    private T[] _planeScratch = [];
    private readonly T[] _mean, _variance, _invStd, _scale, _shift, _negMeanInvStd, _scratch;
    private bool _frozen;
    private int _n, _s;

    /// <summary>Creates the layer with γ = 1, β = 0, running mean 0 and running variance 1.</summary>
    /// <param name="numFeatures">C, the number of channels (features), at least 1.</param>
    /// <param name="epsilon">ε added to the variance, positive; PyTorch's default is 1e-5.</param>
    /// <param name="momentum">The running statistics' update weight m in (0, 1]; PyTorch's default is 0.1.</param>
    /// <param name="affine">Whether the layer learns γ and β.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    protected BatchNorm(int numFeatures, double epsilon, double momentum, bool affine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        if (!(epsilon > 0) || !double.IsFinite(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive and finite.");
        if (!(momentum > 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must lie in (0, 1].");
        NumFeatures = numFeatures;
        Epsilon = epsilon;
        Momentum = momentum;
        Affine = affine;
        if (affine)
        {
            Weight = new Parameter<T>("weight", new NdArray<T>(numFeatures));
            Weight.Value.Fill(T.One);
            Bias = new Parameter<T>("bias", new NdArray<T>(numFeatures));
            _parameters = [Weight, Bias];
        }
        else
        {
            _parameters = [];
        }
        RunningMean = new NdArray<T>(numFeatures);
        RunningVariance = new NdArray<T>(numFeatures);
        RunningVariance.Fill(T.One);
        NumBatchesTracked = new NdArray<T>(1);
        _buffers =
        [
            new ModuleBuffer<T>("running_mean", RunningMean),
            new ModuleBuffer<T>("running_var", RunningVariance),
            new ModuleBuffer<T>("num_batches_tracked", NumBatchesTracked),
        ];
        _mean = new T[numFeatures];
        _variance = new T[numFeatures];
        _invStd = new T[numFeatures];
        _scale = new T[numFeatures];
        _shift = new T[numFeatures];
        _negMeanInvStd = new T[numFeatures];
        _scratch = new T[Kernels.Cpu.BatchNormScratchLength(numFeatures)];
    }

    /// <summary>C, the number of channels normalized separately.</summary>
    public int NumFeatures { get; }

    /// <summary>ε, added to the variance before the square root.</summary>
    public double Epsilon { get; }

    /// <summary>The weight m of the newest batch in the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>Whether the layer has the learned scale γ and shift β.</summary>
    public bool Affine { get; }

    /// <summary>γ, shape (C), or null when <see cref="Affine"/> is false.</summary>
    public Parameter<T>? Weight { get; }

    /// <summary>β, shape (C), or null when <see cref="Affine"/> is false.</summary>
    public Parameter<T>? Bias { get; }

    /// <summary>The running mean (C) used in evaluation (buffer <c>running_mean</c>).</summary>
    public NdArray<T> RunningMean { get; }

    /// <summary>The running unbiased variance (C) used in evaluation (buffer <c>running_var</c>).</summary>
    public NdArray<T> RunningVariance { get; }

    /// <summary>How many training batches have updated the running statistics (buffer <c>num_batches_tracked</c>, shape (1)).</summary>
    public NdArray<T> NumBatchesTracked { get; }

    /// <summary>The weight γ, then the bias β; empty when <see cref="Affine"/> is false.</summary>
    public override IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary><c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>.</summary>
    public override IReadOnlyList<ModuleBuffer<T>> Buffers => _buffers;

    /// <summary>The module's description for messages, e.g. <c>BatchNorm2d(16, eps 1E-05, momentum 0.1)</c>; built once (messages are formatted on every call).</summary>
    protected string Label => _label ??= string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Name}({NumFeatures}, eps {Epsilon}, momentum {Momentum}{(Affine ? "" : ", no affine")})");

    private string? _label;

    /// <summary>Checks the full batch shape and returns (N, S), S the number of values per channel per example.</summary>
    /// <param name="shape">The input's shape including the batch dimension.</param>
    /// <exception cref="ArgumentException">The shape does not fit.</exception>
    protected abstract (int Batch, int Spatial) Layout(ReadOnlySpan<int> shape);

    /// <inheritdoc/>
    public override NdArray<T> Forward(NdArray<T> input, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        (int n, int s) = Layout(input.Shape);
        // Training reads every input value into a per-channel sum, and a sum with a NaN or an infinity among its terms is
        // not finite, so the full scan for the error message runs only when a statistic comes out non-finite.
        if (!training && !InputKnownFinite) ModuleChecks.ThrowIfNotFinite(Label, nameof(input), input);
        int c = NumFeatures;
        var y = ModuleChecks.Ensure(ref _output, input.Shape);
        ReadOnlySpan<T> gamma = Affine ? Weight!.Value.Data : default, beta = Affine ? Bias!.Value.Data : default;
        T eps = T.CreateChecked(Epsilon);
        _input = null;
        if (training)
        {
            long m = (long)n * s;
            if (m < 2)
                throw new ArgumentException($"{Label}: training needs more than one value per channel to estimate a variance, got input {input.ShapeString}.", nameof(input));
            if (s > 1)
            {
                // Over image planes x̂ is not kept (writing it costs as much as writing y): the backward pass recomputes
                // it, the same bits, from this input, which the layer before leaves unchanged until its next forward.
                int planes = Kernels.Cpu.BatchNormPlaneScratchLength(s);
                if (_planeScratch.Length < planes) _planeScratch = new T[planes];
                Kernels.Cpu.BatchNormForwardTrainingWithoutXhat<T>(y.Data, _mean, _variance, _invStd, input.Data, gamma, beta, _planeScratch, n, c, s, eps);
                _input = input;
            }
            else
            {
                var xhat = ModuleChecks.Ensure(ref _xhat, input.Shape);
                Kernels.Cpu.BatchNormForwardTraining<T>(y.Data, xhat.Data, _mean, _variance, _invStd, input.Data, gamma, beta, n, c, s, eps);
            }
            if (!TensorPrimitives.IsFiniteAll<T>(_mean.AsSpan(0, c)) || !TensorPrimitives.IsFiniteAll<T>(_variance.AsSpan(0, c)))
                ModuleChecks.ThrowIfNotFinite(Label, nameof(input), input);   // before the running statistics take the batch in
            T mom = T.CreateChecked(Momentum), keep = T.One - mom, unbias = T.CreateChecked((double)m / (m - 1));
            Span<T> rm = RunningMean.AsSpan(), rv = RunningVariance.AsSpan();
            for (int ch = 0; ch < c; ch++)
            {
                rm[ch] = keep * rm[ch] + mom * _mean[ch];
                rv[ch] = keep * rv[ch] + mom * (_variance[ch] * unbias);
            }
            NumBatchesTracked.Data[0] += T.One;
        }
        else
        {
            ReadOnlySpan<T> rm = RunningMean.Data, rv = RunningVariance.Data;
            for (int ch = 0; ch < c; ch++)
            {
                T inv = T.One / T.Sqrt(rv[ch] + eps);
                T g = Affine ? gamma[ch] : T.One, b = Affine ? beta[ch] : T.Zero;
                _invStd[ch] = inv;
                _negMeanInvStd[ch] = -rm[ch] * inv;
                _scale[ch] = g * inv;
                _shift[ch] = b - g * rm[ch] * inv;
            }
            var xhat = ModuleChecks.Ensure(ref _xhat, input.Shape);
            Kernels.Cpu.BatchNormForwardInference<T>(y.Data, xhat.Data, input.Data, _scale, _shift, _invStd, _negMeanInvStd, n, c, s);
        }
        _frozen = !training;
        (_n, _s) = (n, s);
        return y;
    }

    /// <inheritdoc/>
    public override NdArray<T> Backward(NdArray<T> outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        ModuleChecks.ThrowIfGradientMismatch(Label, outputGradient, _output);
        var dx = ModuleChecks.Ensure(ref _inputGradient, _output!.Shape);
        Span<T> dgamma = Affine ? Weight!.Gradient.AsSpan() : default, dbeta = Affine ? Bias!.Gradient.AsSpan() : default;
        ReadOnlySpan<T> gamma = Affine ? Weight!.Value.Data : default;
        if (_input is not null)
        {
            int planes = Kernels.Cpu.BatchNormPlaneScratchLength(_s);   // the thread limit may have changed since the forward
            if (_planeScratch.Length < planes) _planeScratch = new T[planes];
            Kernels.Cpu.BatchNormBackwardFromInput<T>(dx.Data, dgamma, dbeta, outputGradient.Data, _input.Data, _mean, _invStd, gamma,
                _scratch, _planeScratch, _n, NumFeatures, _s, ComputeInputGradient);
        }
        else
        {
            Kernels.Cpu.BatchNormBackward<T>(dx.Data, dgamma, dbeta, outputGradient.Data, _xhat!.Data, _invStd, gamma, _scratch,
                _n, NumFeatures, _s, _frozen, ComputeInputGradient);
        }
        return dx;
    }

    /// <summary>Resets the running statistics to mean 0, variance 1 and a zero batch count.</summary>
    public void ResetRunningStatistics()
    {
        RunningMean.Clear();
        RunningVariance.Fill(T.One);
        NumBatchesTracked.Clear();
    }

    /// <inheritdoc/>
    public override string ToString() => Label;

    /// <summary>The per-channel mean of the last training batch (for tests and diagnostics).</summary>
    internal ReadOnlySpan<T> LastBatchMean => _mean;
}

/// <summary>Batch normalization of features: input (N, C), per-feature statistics over the batch. See <see cref="BatchNorm{T}"/>.</summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class BatchNorm1d<T> : BatchNorm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a BatchNorm1d over <paramref name="numFeatures"/> features (PyTorch's defaults: ε 1e-5, momentum 0.1, affine).</summary>
    /// <param name="numFeatures">C, the number of features.</param>
    /// <param name="epsilon">ε, positive.</param>
    /// <param name="momentum">The running statistics' update weight, in (0, 1].</param>
    /// <param name="affine">Whether the layer learns γ and β.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public BatchNorm1d(int numFeatures, double epsilon = 1e-5, double momentum = 0.1, bool affine = true)
        : base(numFeatures, epsilon, momentum, affine)
    {
    }

    /// <inheritdoc/>
    public override string Name => "BatchNorm1d";

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length != 1 || inputShape[0] != NumFeatures)
            throw new ArgumentException($"{Label}: expected per-example input shape ({NumFeatures}), got {NdArray<T>.ShapeToString(inputShape)}.", nameof(inputShape));
        return inputShape.ToArray();
    }

    /// <inheritdoc/>
    protected override (int Batch, int Spatial) Layout(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 2 || shape[1] != NumFeatures || shape[0] < 1)
            throw new ArgumentException($"{Label}: expected input of shape (N, {NumFeatures}), got {NdArray<T>.ShapeToString(shape)}.", "input");
        return (shape[0], 1);
    }
}

/// <summary>Batch normalization of image channels: input (N, C, H, W), per-channel statistics over N·H·W. See <see cref="BatchNorm{T}"/>.</summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class BatchNorm2d<T> : BatchNorm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a BatchNorm2d over <paramref name="numFeatures"/> channels (PyTorch's defaults: ε 1e-5, momentum 0.1, affine).</summary>
    /// <param name="numFeatures">C, the number of channels.</param>
    /// <param name="epsilon">ε, positive.</param>
    /// <param name="momentum">The running statistics' update weight, in (0, 1].</param>
    /// <param name="affine">Whether the layer learns γ and β.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public BatchNorm2d(int numFeatures, double epsilon = 1e-5, double momentum = 0.1, bool affine = true)
        : base(numFeatures, epsilon, momentum, affine)
    {
    }

    /// <inheritdoc/>
    public override string Name => "BatchNorm2d";

    /// <inheritdoc/>
    public override int[] GetOutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length != 3 || inputShape[0] != NumFeatures)
            throw new ArgumentException($"{Label}: expected per-example input shape ({NumFeatures}, H, W), got {NdArray<T>.ShapeToString(inputShape)}.", nameof(inputShape));
        return inputShape.ToArray();
    }

    /// <inheritdoc/>
    protected override (int Batch, int Spatial) Layout(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 4 || shape[1] != NumFeatures || shape[0] < 1)
            throw new ArgumentException($"{Label}: expected input of shape (N, {NumFeatures}, H, W), got {NdArray<T>.ShapeToString(shape)}.", "input");
        return (shape[0], shape[2] * shape[3]);
    }
}
