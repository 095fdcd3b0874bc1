using System.Numerics;
using NeuralNet.Modules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Optimization;

/// <summary>RMSprop with optional momentum and centering: <c>torch.optim.RMSprop</c> (1.13, single-tensor path).</summary>
/// <typeparam name="T">The element type of the parameters.</typeparam>
/// <remarks>
/// <para>For each parameter w with gradient g, its group's rate η and decay λ, smoothing α, momentum μ:</para>
/// <code>
/// g = g + λ·w                          (L2 decay)
/// s = α·s + (1 − α)·g²
/// ḡ = α·ḡ + (1 − α)·g                 (only when centered)
/// a = √(s − ḡ²) + ε  when centered, else √s + ε      (ε outside the square root, as torch)
/// b = μ·b + g / a;  w = w − η·b        (with momentum)
/// w = w − η·g / a                      (without)
/// </code>
/// <para>Defaults as torch: η = 10⁻², α = 0.99, ε = 10⁻⁸, λ = 0, μ = 0, not centered. All buffers start at zero (state
/// <c>square_avg</c>, <c>momentum_buffer</c> with momentum, <c>grad_avg</c> when centered). torch's <c>maximize</c> option is not
/// offered.</para>
/// </remarks>
public sealed class RmsProp<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NdArray<T>[] _squareAvg, _momentumBuffer, _gradAvg;
    private double _momentum; // μ, which a OneCycle schedule may cycle

    /// <summary>Creates an optimizer for every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose parameters are stepped.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="alpha">α, the smoothing constant, in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">λ ≥ 0 (L2).</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <param name="centered">Normalize by the estimated variance of the gradient instead of its second moment.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range.</exception>
    public RmsProp(Module<T> model, double learningRate = 1e-2, double alpha = 0.99, double epsilon = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Parameters, learningRate, alpha, epsilon, weightDecay, momentum, centered)
    {
    }

    /// <summary>Creates an optimizer for the given parameters.</summary>
    /// <param name="parameters">The parameters, in a fixed order.</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="alpha">α, the smoothing constant, in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">λ ≥ 0 (L2).</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <param name="centered">Normalize by the estimated variance of the gradient instead of its second moment.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range, or a parameter is null or repeated.</exception>
    public RmsProp(IReadOnlyList<Parameter<T>> parameters, double learningRate = 1e-2, double alpha = 0.99, double epsilon = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false)
        : this([new ParameterGroup<T>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], learningRate, alpha, epsilon, weightDecay, momentum, centered)
    {
    }

    /// <summary>Creates an optimizer over parameter groups, each with its own rate and weight decay (defaulting to these).</summary>
    /// <param name="groups">The groups.</param>
    /// <param name="learningRate">The default η, positive and finite.</param>
    /// <param name="alpha">α, the smoothing constant, in [0, 1).</param>
    /// <param name="epsilon">ε, positive and finite.</param>
    /// <param name="weightDecay">The default λ ≥ 0 (L2).</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <param name="centered">Normalize by the estimated variance of the gradient instead of its second moment.</param>
    /// <exception cref="ArgumentException">A hyper-parameter is out of range, or a parameter is repeated.</exception>
    public RmsProp(IEnumerable<ParameterGroup<T>> groups, double learningRate = 1e-2, double alpha = 0.99, double epsilon = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false)
        : base(groups, Check(learningRate, alpha, epsilon, momentum), weightDecay)
    {
        Alpha = alpha;
        Epsilon = epsilon;
        _momentum = momentum;
        InitialMomentum = momentum;
        Centered = centered;
        _squareAvg = AddState("square_avg");
        _momentumBuffer = momentum > 0 ? AddState("momentum_buffer") : [];
        _gradAvg = centered ? AddState("grad_avg") : [];
    }

    // Runs before the base constructor adopts the groups, so a bad setting leaves them free for another optimizer.
    private static double Check(double learningRate, double alpha, double epsilon, double momentum)
    {
        if (!(double.IsFinite(alpha) && alpha >= 0 && alpha < 1))
            throw new ArgumentException($"RmsProp: alpha must be in [0, 1), got {Format(alpha)}.", nameof(alpha));
        if (!(double.IsFinite(epsilon) && epsilon > 0))
            throw new ArgumentException($"RmsProp: epsilon must be positive and finite, got {Format(epsilon)}.", nameof(epsilon));
        if (!(double.IsFinite(momentum) && momentum >= 0 && momentum < 1))
            throw new ArgumentException($"RmsProp: momentum must be in [0, 1), got {Format(momentum)}.", nameof(momentum));
        return learningRate;
    }

    /// <inheritdoc/>
    public override string Kind => "RmsProp";

    /// <summary>α.</summary>
    public double Alpha { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>μ used by the next step; 0 without momentum. A <see cref="Schedules.OneCycleSchedule"/> with momentum cycling
    /// changes it.</summary>
    public double Momentum => _momentum;

    /// <summary>μ given to the constructor.</summary>
    public double InitialMomentum { get; }

    /// <inheritdoc/>
    public override double ScheduledMomentum => InitialMomentum > 0 ? _momentum : double.NaN;

    internal override void SetScheduledMomentum(double value)
    {
        if (InitialMomentum == 0) base.SetScheduledMomentum(value);
        _momentum = value;
    }

    /// <summary>True when centered.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected override void Update(int index, ParameterGroup<T> group, int start, int length)
    {
        var p = Parameters[index];
        double decay = group.WeightDecay;
        T lambda = T.CreateTruncating(decay);
        T alpha = T.CreateTruncating(Alpha), keep = T.CreateTruncating(1 - Alpha);
        T eps = T.CreateTruncating(Epsilon), mu = T.CreateTruncating(Momentum);
        T negLr = T.CreateTruncating(-group.LearningRate);
        Span<T> w = p.Value.AsSpan().Slice(start, length);
        ReadOnlySpan<T> g = p.Gradient.AsSpan().Slice(start, length);
        Span<T> s = _squareAvg[index].AsSpan().Slice(start, length);
        Span<T> buf = InitialMomentum > 0 ? _momentumBuffer[index].AsSpan().Slice(start, length) : default;
        Span<T> avgG = Centered ? _gradAvg[index].AsSpan().Slice(start, length) : default;
        Span<T> scratch = stackalloc T[2 * OptimizerKernels.Chunk];
        Span<T> a = scratch[..OptimizerKernels.Chunk], b = scratch[OptimizerKernels.Chunk..];
        for (int o = 0; o < length; o += OptimizerKernels.Chunk)
        {
            int n = Math.Min(OptimizerKernels.Chunk, length - o);
            var wc = w.Slice(o, n);
            var sc = s.Slice(o, n);
            var ac = a[..n];
            var bc = b[..n];
            scoped ReadOnlySpan<T> gc = g.Slice(o, n);
            if (decay != 0)
            {
                TensorPrimitives.MultiplyAdd(wc, lambda, gc, ac);       // g = λ·w + g
                gc = ac;
            }
            TensorPrimitives.Multiply(gc, keep, bc);                    // (1 − α)·g
            TensorPrimitives.Multiply(sc, alpha, sc);                   // s = α·s
            TensorPrimitives.MultiplyAdd(bc, gc, sc, sc);               // s += (1 − α)·g·g
            if (Centered)
            {
                var mc = avgG.Slice(o, n);
                TensorPrimitives.Multiply(mc, alpha, mc);               // ḡ = α·ḡ
                TensorPrimitives.MultiplyAdd(gc, keep, mc, mc);         // ḡ += (1 − α)·g
                TensorPrimitives.Multiply(mc, T.NegativeOne, bc);       // −ḡ
                TensorPrimitives.MultiplyAdd(bc, mc, sc, bc);           // s − ḡ·ḡ
                TensorPrimitives.Sqrt(bc, bc);
            }
            else
            {
                TensorPrimitives.Sqrt(sc, bc);
            }
            TensorPrimitives.Add(bc, eps, bc);                          // a = … + ε
            if (InitialMomentum > 0)
            {
                var kc = buf.Slice(o, n);
                TensorPrimitives.Multiply(kc, mu, kc);                  // b = μ·b
                TensorPrimitives.Divide(gc, bc, bc);                    // g / a
                TensorPrimitives.Add(kc, bc, kc);                       // b += g / a
                TensorPrimitives.MultiplyAdd(kc, negLr, wc, wc);        // w = b·(−η) + w
            }
            else
            {
                TensorPrimitives.Multiply(gc, negLr, ac);               // −η·g (ac may hold g itself: elementwise in place)
                TensorPrimitives.Divide(ac, bc, ac);                    //   / a
                TensorPrimitives.Add(wc, ac, wc);                       // w += …
            }
        }
    }

    /// <inheritdoc/>
    protected override void WriteHyperParameters(IDictionary<string, double> into)
    {
        into["alpha"] = Alpha;
        into["eps"] = Epsilon;
        into["momentum"] = InitialMomentum;
        into["centered"] = Centered ? 1 : 0;
    }

    /// <inheritdoc/>
    protected override void WriteStateScalars(IDictionary<string, double> into)
    {
        if (InitialMomentum > 0) into["current_momentum"] = _momentum;
    }

    /// <inheritdoc/>
    protected override void ReadStateScalars(IReadOnlyDictionary<string, double> scalars)
    {
        if (InitialMomentum == 0) return;
        double current = ReadScalar(scalars, "current_momentum");
        if (!(current >= 0 && current < 1))
            throw new ArgumentException($"RmsProp.SetState: current_momentum must be in [0, 1), got {Format(current)}.", nameof(scalars));
        _momentum = current;
    }
}
