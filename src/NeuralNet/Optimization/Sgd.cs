using System.Numerics;
using NeuralNet.Modules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Optimization;

/// <summary>
/// Stochastic gradient descent with optional momentum (with dampening, or Nesterov) and L2 weight decay:
/// <c>torch.optim.SGD</c>.
/// </summary>
/// <typeparam name="T">The element type of the parameters.</typeparam>
/// <remarks>
/// <para>For each parameter w with gradient g, its group's learning rate η and weight decay λ, momentum μ and dampening τ, one
/// <see cref="Optimizer{T}.Step"/> computes (PyTorch 1.13's formulation):</para>
/// <code>
/// d = g + λ·w
/// v = d                    on the first step (and the first after ResetState)
/// v = μ·v + (1 − τ)·d      afterwards                      (only when μ ≠ 0)
/// d = d + μ·v              with Nesterov, else d = v        (only when μ ≠ 0)
/// w = w − η·d
/// </code>
/// <para>Defaults as torch: μ = 0, τ = 0, λ = 0, no Nesterov. Weight decay applies to every parameter of a group, biases
/// included; use <see cref="ParameterGroups.SplitWeightDecay{T}(Module{T}, double)"/> for none on biases. Without dampening
/// the momentum buffer starts at zero and v = μ·v + g + λ·w is evaluated as (μ·v + g) + λ·w; the result equals torch's up to
/// rounding. The velocity tensors (state <c>momentum_buffer</c>) exist only with momentum; a step allocates nothing.</para>
/// </remarks>
public sealed class Sgd<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NdArray<T>[] _velocity;   // momentum_buffer; empty without momentum
    private bool _initialized;                 // the velocity holds a value (torch: momentum_buffer is not None)
    private bool _firstStep;                   // this step initializes the velocity
    private double _momentum;                  // μ, which a OneCycle schedule may cycle

    /// <summary>Creates an optimizer for every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose <see cref="Module{T}.Parameters"/> are stepped.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="momentum">μ in [0, 1); 0 disables momentum.</param>
    /// <param name="weightDecay">λ ≥ 0; 0 disables weight decay.</param>
    /// <param name="dampening">τ in [0, 1].</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0 and τ = 0).</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range or not finite.</exception>
    public Sgd(Module<T> model, double learningRate, double momentum = 0, double weightDecay = 0, double dampening = 0, bool nesterov = false)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Parameters, learningRate, momentum, weightDecay, dampening, nesterov)
    {
    }

    /// <summary>Creates an optimizer for the given parameters.</summary>
    /// <param name="parameters">The parameters to step, in a fixed order (the order of the state's buffers).</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="momentum">μ in [0, 1); 0 disables momentum.</param>
    /// <param name="weightDecay">λ ≥ 0; 0 disables weight decay.</param>
    /// <param name="dampening">τ in [0, 1].</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0 and τ = 0).</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range or not finite, or a parameter is null or repeated.</exception>
    public Sgd(IReadOnlyList<Parameter<T>> parameters, double learningRate, double momentum = 0, double weightDecay = 0, double dampening = 0, bool nesterov = false)
        : this([new ParameterGroup<T>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], learningRate, momentum, weightDecay, dampening, nesterov)
    {
    }

    /// <summary>Creates an optimizer over parameter groups, each with its own rate and weight decay (defaulting to these).</summary>
    /// <param name="groups">The groups.</param>
    /// <param name="learningRate">The default η, positive and finite.</param>
    /// <param name="momentum">μ in [0, 1); 0 disables momentum.</param>
    /// <param name="weightDecay">The default λ ≥ 0.</param>
    /// <param name="dampening">τ in [0, 1].</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0 and τ = 0).</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range or not finite, or a parameter is repeated.</exception>
    public Sgd(IEnumerable<ParameterGroup<T>> groups, double learningRate, double momentum = 0, double weightDecay = 0, double dampening = 0, bool nesterov = false)
        : base(groups, Check(learningRate, momentum, dampening, nesterov), weightDecay)
    {
        _momentum = momentum;
        InitialMomentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
        _velocity = momentum != 0 ? AddState("momentum_buffer") : [];
    }

    // Runs before the base constructor adopts the groups, so a bad setting leaves them free for another optimizer.
    private static double Check(double learningRate, double momentum, double dampening, bool nesterov)
    {
        if (!double.IsFinite(momentum) || momentum < 0 || momentum >= 1)
            throw new ArgumentException($"Sgd: momentum must be in [0, 1), got {Format(momentum)}.", nameof(momentum));
        if (!double.IsFinite(dampening) || dampening < 0 || dampening > 1)
            throw new ArgumentException($"Sgd: dampening must be in [0, 1], got {Format(dampening)}.", nameof(dampening));
        if (nesterov && (momentum == 0 || dampening != 0))
            throw new ArgumentException($"Sgd: Nesterov momentum needs momentum > 0 and zero dampening, got momentum {Format(momentum)} and dampening {Format(dampening)}.", nameof(nesterov));
        return learningRate;
    }

    /// <inheritdoc/>
    public override string Kind => "Sgd";

    /// <summary>μ used by the next step; 0 when momentum is disabled. A <see cref="Schedules.OneCycleSchedule"/> with momentum
    /// cycling changes it.</summary>
    public double Momentum => _momentum;

    /// <summary>μ given to the constructor.</summary>
    public double InitialMomentum { get; }

    /// <inheritdoc/>
    public override double ScheduledMomentum => InitialMomentum != 0 ? _momentum : double.NaN;

    internal override void SetScheduledMomentum(double value)
    {
        if (InitialMomentum == 0) base.SetScheduledMomentum(value);
        _momentum = value;
    }

    /// <summary>τ, the dampening of the gradient's contribution to the velocity after the first step.</summary>
    public double Dampening { get; }

    /// <summary>True for Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void BeginStep()
    {
        _firstStep = !_initialized;
        if (InitialMomentum != 0) _initialized = true;
    }

    /// <inheritdoc/>
    protected override void Update(int index, ParameterGroup<T> group, int start, int length)
    {
        var p = Parameters[index];
        T negLr = -T.CreateTruncating(group.LearningRate);
        double decay = group.WeightDecay;
        T lambda = T.CreateTruncating(decay);
        Span<T> w = p.Value.AsSpan().Slice(start, length);
        ReadOnlySpan<T> g = p.Gradient.AsSpan().Slice(start, length);
        if (InitialMomentum == 0)
        {
            if (decay == 0)
            {
                TensorPrimitives.MultiplyAdd(g, negLr, w, w); // w = g·(−η) + w
                return;
            }
            Span<T> d = stackalloc T[OptimizerKernels.Chunk];
            for (int o = 0; o < length; o += d.Length)
            {
                int n = Math.Min(d.Length, length - o);
                var dc = d[..n];
                var wc = w.Slice(o, n);
                TensorPrimitives.MultiplyAdd(wc, lambda, g.Slice(o, n), dc); // d = λ·w + g
                TensorPrimitives.MultiplyAdd(dc, negLr, wc, wc);             // w = d·(−η) + w
            }
            return;
        }

        T mu = T.CreateTruncating(Momentum);
        Span<T> v = _velocity[index].AsSpan().Slice(start, length);
        if (!Nesterov && (Dampening == 0 || _firstStep))
        {
            // v starts at zero, so the first step gives v = g + λ·w = d, as torch's clone.
            TensorPrimitives.MultiplyAdd(v, mu, g, v);                    // v = μ·v + g
            if (decay != 0) TensorPrimitives.MultiplyAdd(w, lambda, v, v); // v += λ·w, i.e. v = μ·v + (g + λ·w)
            TensorPrimitives.MultiplyAdd(v, negLr, w, w);                  // w = v·(−η) + w
            return;
        }

        T keep = T.CreateTruncating(1 - Dampening);
        Span<T> buffer = stackalloc T[OptimizerKernels.Chunk];
        for (int o = 0; o < length; o += buffer.Length)
        {
            int n = Math.Min(buffer.Length, length - o);
            var d = buffer[..n];
            var wc = w.Slice(o, n);
            var vc = v.Slice(o, n);
            var gc = g.Slice(o, n);
            if (decay != 0) TensorPrimitives.MultiplyAdd(wc, lambda, gc, d); // d = λ·w + g
            else gc.CopyTo(d);
            if (_firstStep)
            {
                d.CopyTo(vc);                                                 // v = d
            }
            else
            {
                TensorPrimitives.Multiply(vc, mu, vc);                        // v = μ·v
                TensorPrimitives.MultiplyAdd(d, keep, vc, vc);                // v += (1 − τ)·d
            }
            if (Nesterov) TensorPrimitives.MultiplyAdd(vc, mu, d, d);         // d += μ·v
            else vc.CopyTo(d);
            TensorPrimitives.MultiplyAdd(d, negLr, wc, wc);                   // w = d·(−η) + w
        }
    }

    /// <summary>Clears the velocity; the next step initializes it from the gradient, as the first step does.</summary>
    public override void ResetState()
    {
        base.ResetState();
        _initialized = false;
    }

    /// <inheritdoc/>
    protected override void WriteHyperParameters(IDictionary<string, double> into)
    {
        into["momentum"] = InitialMomentum;
        into["dampening"] = Dampening;
        into["nesterov"] = Nesterov ? 1 : 0;
    }

    /// <inheritdoc/>
    protected override void WriteStateScalars(IDictionary<string, double> into)
    {
        if (InitialMomentum == 0) return;
        into["momentum_initialized"] = _initialized ? 1 : 0;
        into["current_momentum"] = _momentum;
    }

    /// <inheritdoc/>
    protected override void ReadStateScalars(IReadOnlyDictionary<string, double> scalars)
    {
        if (InitialMomentum == 0) return;
        double initialized = ReadScalar(scalars, "momentum_initialized");
        if (initialized is not (0 or 1))
            throw new ArgumentException($"Sgd.SetState: momentum_initialized must be 0 or 1, got {Format(initialized)}.", nameof(scalars));
        double current = ReadScalar(scalars, "current_momentum");
        if (!(current >= 0 && current < 1))
            throw new ArgumentException($"Sgd.SetState: current_momentum must be in [0, 1), got {Format(current)}.", nameof(scalars));
        _initialized = initialized == 1;
        _momentum = current;
    }
}

/// <summary>Shared constants of the optimizer kernels.</summary>
internal static class OptimizerKernels
{
    /// <summary>Elements per stack scratch chunk: small enough for the stack and L1 (4 KiB of doubles), large enough that the
    /// per-call overhead of TensorPrimitives is negligible.</summary>
    public const int Chunk = 512;
}
