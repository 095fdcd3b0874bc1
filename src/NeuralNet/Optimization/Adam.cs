using System.Numerics;
using NeuralNet.Modules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Optimization;

/// <summary>What <see cref="Adam{T}"/> and <see cref="AdamW{T}"/> share: the moment estimates, their settings and state.</summary>
/// <typeparam name="T">The element type of the parameters.</typeparam>
/// <remarks>The two differ only in where the weight decay enters (see each class); the update itself is one kernel.</remarks>
public abstract class AdamBase<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly AdamKernel<T> _kernel;

    private protected AdamBase(IEnumerable<ParameterGroup<T>> groups, string kind, double learningRate, double beta1, double beta2,
        double epsilon, double weightDecay, bool amsGrad, bool decoupled)
        : base(groups, AdamKernel<T>.Check(kind, learningRate, beta1, beta2, epsilon), weightDecay)
    {
        _kernel = new AdamKernel<T>(this, beta1, beta2, epsilon, amsGrad, decoupled);
    }

    /// <summary>β₁ used by the next step (a <see cref="Schedules.OneCycleSchedule"/> with momentum cycling changes it).</summary>
    public double Beta1 => _kernel.Beta1;

    /// <inheritdoc/>
    public override double ScheduledMomentum => _kernel.Beta1;

    internal override void SetScheduledMomentum(double value) => _kernel.Beta1 = value;

    /// <summary>β₂.</summary>
    public double Beta2 => _kernel.Beta2;

    /// <summary>ε.</summary>
    public double Epsilon => _kernel.Epsilon;

    /// <summary>True with AMSGrad.</summary>
    public bool AmsGrad => _kernel.AmsGrad;

    /// <inheritdoc/>
    protected override void BeginStep() => _kernel.BeginStep();

    /// <inheritdoc/>
    protected override void Update(int index, ParameterGroup<T> group, int start, int length) => _kernel.Update(Parameters[index], index, group, start, length);

    /// <inheritdoc/>
    public override void ResetState()
    {
        base.ResetState();
        _kernel.Step = 0;
    }

    /// <inheritdoc/>
    protected override void WriteHyperParameters(IDictionary<string, double> into) => _kernel.WriteHyperParameters(into);

    /// <inheritdoc/>
    protected override void WriteStateScalars(IDictionary<string, double> into) => _kernel.WriteStateScalars(into);

    /// <inheritdoc/>
    protected override void ReadStateScalars(IReadOnlyDictionary<string, double> scalars) =>
        _kernel.ReadStateScalars(this, ReadScalar(scalars, "step"), ReadScalar(scalars, "current_beta1"));
}

/// <summary>Adam with L2 weight decay added to the gradient: <c>torch.optim.Adam</c> (1.13, single-tensor path).</summary>
/// <typeparam name="T">The element type of the parameters.</typeparam>
/// <remarks>
/// <para>For each parameter w with gradient g, its group's rate η and decay λ, at step t (counted from 1, restarted by
/// <see cref="Optimizer{T}.ResetState"/>):</para>
/// <code>
/// g = g + λ·w                                  (L2 decay, coupled: it passes through the moments)
/// m = β₁·m + (1 − β₁)·g
/// v = β₂·v + (1 − β₂)·g²
/// v̂ = max(v̂, v)                               (only with AMSGrad; the denominator then uses v̂)
/// denom = √v / √(1 − β₂ᵗ) + ε                  (ε added after the bias correction, as torch)
/// w = w − (η / (1 − β₁ᵗ))·m / denom
/// </code>
/// <para>Defaults as torch: η = 10⁻³, β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸, λ = 0, no AMSGrad. Moments start at zero (state
/// <c>exp_avg</c>, <c>exp_avg_sq</c>, and <c>max_exp_avg_sq</c> with AMSGrad; number <c>step</c>). torch's <c>maximize</c>,
/// <c>foreach</c>, <c>capturable</c> and <c>differentiable</c> options are not offered. For decoupled decay use
/// <see cref="AdamW{T}"/>.</para>
/// </remarks>
public sealed class Adam<T> : AdamBase<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates an optimizer for every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose parameters are stepped.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">λ ≥ 0 (L2, added to the gradient).</param>
    /// <param name="amsGrad">Use AMSGrad's running maximum of v.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range.</exception>
    public Adam(Module<T> model, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 0, bool amsGrad = false)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Parameters, learningRate, beta1, beta2, epsilon, weightDecay, amsGrad)
    {
    }

    /// <summary>Creates an optimizer for the given parameters.</summary>
    /// <param name="parameters">The parameters, in a fixed order.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">λ ≥ 0 (L2, added to the gradient).</param>
    /// <param name="amsGrad">Use AMSGrad's running maximum of v.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range, or a parameter is null or repeated.</exception>
    public Adam(IReadOnlyList<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 0, bool amsGrad = false)
        : this([new ParameterGroup<T>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], learningRate, beta1, beta2, epsilon, weightDecay, amsGrad)
    {
    }

    /// <summary>Creates an optimizer over parameter groups, each with its own rate and weight decay (defaulting to these).</summary>
    /// <param name="groups">The groups.</param>
    /// <param name="learningRate">The default η, positive and finite.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">The default λ ≥ 0 (L2, added to the gradient).</param>
    /// <param name="amsGrad">Use AMSGrad's running maximum of v.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range, or a parameter is repeated.</exception>
    public Adam(IEnumerable<ParameterGroup<T>> groups, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 0, bool amsGrad = false)
        : base(groups, "Adam", learningRate, beta1, beta2, epsilon, weightDecay, amsGrad, decoupled: false)
    {
    }

    /// <inheritdoc/>
    public override string Kind => "Adam";
}

/// <summary>AdamW: Adam with decoupled weight decay, <c>torch.optim.AdamW</c> (1.13, single-tensor path).</summary>
/// <typeparam name="T">The element type of the parameters.</typeparam>
/// <remarks>
/// <para>As <see cref="Adam{T}"/> without the L2 term, after first shrinking the weights:</para>
/// <code>
/// w = w·(1 − η·λ)                              (decoupled decay, before the moment updates)
/// m = β₁·m + (1 − β₁)·g
/// v = β₂·v + (1 − β₂)·g²
/// v̂ = max(v̂, v)                               (only with AMSGrad)
/// denom = √v / √(1 − β₂ᵗ) + ε
/// w = w − (η / (1 − β₁ᵗ))·m / denom
/// </code>
/// <para>Defaults as torch: η = 10⁻³, β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸, λ = 10⁻², no AMSGrad. Use
/// <see cref="ParameterGroups.SplitWeightDecay{T}(Module{T}, double)"/> to exempt biases and normalization parameters.</para>
/// </remarks>
public sealed class AdamW<T> : AdamBase<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates an optimizer for every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose parameters are stepped.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">λ ≥ 0 (decoupled).</param>
    /// <param name="amsGrad">Use AMSGrad's running maximum of v.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range.</exception>
    public AdamW(Module<T> model, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 1e-2, bool amsGrad = false)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Parameters, learningRate, beta1, beta2, epsilon, weightDecay, amsGrad)
    {
    }

    /// <summary>Creates an optimizer for the given parameters.</summary>
    /// <param name="parameters">The parameters, in a fixed order.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">λ ≥ 0 (decoupled).</param>
    /// <param name="amsGrad">Use AMSGrad's running maximum of v.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range, or a parameter is null or repeated.</exception>
    public AdamW(IReadOnlyList<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 1e-2, bool amsGrad = false)
        : this([new ParameterGroup<T>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], learningRate, beta1, beta2, epsilon, weightDecay, amsGrad)
    {
    }

    /// <summary>Creates an optimizer over parameter groups, each with its own rate and weight decay (defaulting to these).</summary>
    /// <param name="groups">The groups, e.g. from <see cref="ParameterGroups.SplitWeightDecay{T}(Module{T}, double)"/>.</param>
    /// <param name="learningRate">The default η, positive and finite.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">The default λ ≥ 0 (decoupled).</param>
    /// <param name="amsGrad">Use AMSGrad's running maximum of v.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range, or a parameter is repeated.</exception>
    public AdamW(IEnumerable<ParameterGroup<T>> groups, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 1e-2, bool amsGrad = false)
        : base(groups, "AdamW", learningRate, beta1, beta2, epsilon, weightDecay, amsGrad, decoupled: true)
    {
    }

    /// <inheritdoc/>
    public override string Kind => "AdamW";
}

/// <summary>The update shared by <see cref="Adam{T}"/> and <see cref="AdamW{T}"/>, on L1-sized chunks of the parameter.</summary>
internal sealed class AdamKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NdArray<T>[] _expAvg, _expAvgSq, _maxExpAvgSq;
    private readonly bool _decoupled;
    private double _biasCorrection1, _biasCorrection2Sqrt;

    /// <summary>Validates the settings before the optimizer's base constructor adopts the groups (so a bad setting leaves
    /// them free); returns the learning rate for the base call.</summary>
    public static double Check(string kind, double learningRate, double beta1, double beta2, double epsilon)
    {
        if (!(double.IsFinite(beta1) && beta1 >= 0 && beta1 < 1))
            throw new ArgumentException($"{kind}: beta1 must be in [0, 1), got {Format(beta1)}.", nameof(beta1));
        if (!(double.IsFinite(beta2) && beta2 >= 0 && beta2 < 1))
            throw new ArgumentException($"{kind}: beta2 must be in [0, 1), got {Format(beta2)}.", nameof(beta2));
        if (!(double.IsFinite(epsilon) && epsilon > 0))
            throw new ArgumentException($"{kind}: epsilon must be positive and finite, got {Format(epsilon)}.", nameof(epsilon));
        return learningRate;
    }

    public AdamKernel(Optimizer<T> owner, double beta1, double beta2, double epsilon, bool amsGrad, bool decoupled)
    {
        Beta1 = beta1;
        InitialBeta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        AmsGrad = amsGrad;
        _decoupled = decoupled;
        _expAvg = owner.AddState("exp_avg");
        _expAvgSq = owner.AddState("exp_avg_sq");
        _maxExpAvgSq = amsGrad ? owner.AddState("max_exp_avg_sq") : [];
    }

    public double Beta1 { get; set; }
    public double InitialBeta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public bool AmsGrad { get; }

    /// <summary>t, the step of the moments (torch's <c>state['step']</c>).</summary>
    public long Step { get; set; }

    public void BeginStep()
    {
        Step++;
        // In double, as torch computes these Python floats; converted to T only where they meet the tensors.
        _biasCorrection1 = 1 - Math.Pow(Beta1, Step);
        _biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, Step));
    }

    public void Update(Parameter<T> p, int index, ParameterGroup<T> group, int start, int length)
    {
        double lr = group.LearningRate, decay = group.WeightDecay;
        T beta1 = T.CreateTruncating(Beta1), keep1 = T.CreateTruncating(1 - Beta1);
        T beta2 = T.CreateTruncating(Beta2), keep2 = T.CreateTruncating(1 - Beta2);
        T eps = T.CreateTruncating(Epsilon);
        T bc2Sqrt = T.CreateTruncating(_biasCorrection2Sqrt);
        T negStep = T.CreateTruncating(-(lr / _biasCorrection1));
        T lambda = T.CreateTruncating(decay);
        T shrink = T.CreateTruncating(1 - lr * decay);
        Span<T> w = p.Value.AsSpan().Slice(start, length);
        ReadOnlySpan<T> g = p.Gradient.AsSpan().Slice(start, length);
        Span<T> m = _expAvg[index].AsSpan().Slice(start, length);
        Span<T> v = _expAvgSq[index].AsSpan().Slice(start, length);
        Span<T> vMax = AmsGrad ? _maxExpAvgSq[index].AsSpan().Slice(start, length) : default;
        Span<T> scratch = stackalloc T[2 * OptimizerKernels.Chunk];
        Span<T> a = scratch[..OptimizerKernels.Chunk], b = scratch[OptimizerKernels.Chunk..];
        for (int o = 0; o < length; o += OptimizerKernels.Chunk)
        {
            int n = Math.Min(OptimizerKernels.Chunk, length - o);
            var wc = w.Slice(o, n);
            var mc = m.Slice(o, n);
            var vc = v.Slice(o, n);
            var ac = a[..n];
            var bc = b[..n];
            scoped ReadOnlySpan<T> gc = g.Slice(o, n);
            if (_decoupled)
            {
                TensorPrimitives.Multiply(wc, shrink, wc);              // w = w·(1 − η·λ)
            }
            else if (decay != 0)
            {
                TensorPrimitives.MultiplyAdd(wc, lambda, gc, ac);       // g = λ·w + g
                gc = ac;
            }
            TensorPrimitives.Multiply(mc, beta1, mc);                   // m = β₁·m
            TensorPrimitives.MultiplyAdd(gc, keep1, mc, mc);            // m += (1 − β₁)·g
            TensorPrimitives.Multiply(gc, keep2, bc);                   // (1 − β₂)·g
            TensorPrimitives.Multiply(vc, beta2, vc);                   // v = β₂·v
            TensorPrimitives.MultiplyAdd(bc, gc, vc, vc);               // v += (1 − β₂)·g·g
            ReadOnlySpan<T> second = vc;
            if (AmsGrad)
            {
                var xc = vMax.Slice(o, n);
                TensorPrimitives.Max(xc, vc, xc);                       // v̂ = max(v̂, v)
                second = xc;
            }
            TensorPrimitives.Sqrt(second, bc);
            TensorPrimitives.Divide(bc, bc2Sqrt, bc);                   // √v / √(1 − β₂ᵗ)
            TensorPrimitives.Add(bc, eps, bc);                          // + ε
            TensorPrimitives.Multiply(mc, negStep, ac);                 // −(η / (1 − β₁ᵗ))·m
            TensorPrimitives.Divide(ac, bc, ac);                        //   / denom
            TensorPrimitives.Add(wc, ac, wc);                           // w += …
        }
    }

    public void WriteHyperParameters(IDictionary<string, double> into)
    {
        into["beta1"] = InitialBeta1;
        into["beta2"] = Beta2;
        into["eps"] = Epsilon;
        into["amsgrad"] = AmsGrad ? 1 : 0;
    }

    public void WriteStateScalars(IDictionary<string, double> into)
    {
        into["step"] = Step;
        into["current_beta1"] = Beta1;
    }

    public void ReadStateScalars(Optimizer owner, double step, double beta1)
    {
        if (step < 0 || step != Math.Floor(step) || step > long.MaxValue / 2)
            throw new ArgumentException($"{owner.Kind}.SetState: step must be a non-negative integer, got {Format(step)}.", nameof(step));
        if (!(beta1 >= 0 && beta1 < 1))
            throw new ArgumentException($"{owner.Kind}.SetState: current_beta1 must be in [0, 1), got {Format(beta1)}.", nameof(beta1));
        Step = (long)step;
        Beta1 = beta1;
    }

    private static string Format(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
