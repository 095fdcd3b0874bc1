namespace NeuralNet.Optimization.Schedules;

/// <summary>How <see cref="OneCycleSchedule"/> moves between two rates within a phase.</summary>
public enum AnnealStrategy
{
    /// <summary>Cosine: end + (start − end)/2·(cos(π·p) + 1) at fraction p of the phase.</summary>
    Cos,

    /// <summary>Linear: (end − start)·p + start.</summary>
    Linear,
}

/// <summary>The 1cycle policy (PyTorch's OneCycleLR): warm up from η_max/div to η_max, then anneal to η_max/(div·final_div).</summary>
/// <remarks>
/// <para>With N total steps, initial rate η_i = η_max/div and minimum η_min = η_i/final_div, the phases (as torch, in floating
/// point) end at steps e₁ = pct·N − 1 (η_i → η_max) and e₂ = N − 1 (η_max → η_min); with three phases they end at pct·N − 1
/// (η_i → η_max), 2·pct·N − 2 (η_max → η_i) and N − 1 (η_i → η_min). At step t within a phase starting at s and ending at e,
/// p = (t − s)/(e − s). The schedule can be stepped N times; stepping further throws, as torch does. After the N-th step
/// (whose rate no optimizer step of the cycle uses) the rate is η_min, where torch extrapolates the last phase.</para>
/// <para>η_max defaults to each group's initial rate. Defaults as torch: pct = 0.3, cos annealing, div = 25, final_div = 10⁴, two
/// phases.</para>
/// <para>Momentum cycling (torch's <c>cycle_momentum</c>, off by default here because it needs an optimizer with momentum):
/// the optimizer's <see cref="Optimizer.ScheduledMomentum"/> (SGD's and RMSprop's μ, Adam's β₁) moves opposite to the rate,
/// from m_max to m_min while the rate rises and back while it falls (three phases: m_max → m_min, m_min → m_max, then
/// m_max), with the same annealing; defaults m_min = 0.85, m_max = 0.95 as torch.</para>
/// <para>OneCycle is meant to be stepped every iteration: construct it with <c>Interval = ScheduleInterval.Iteration</c> for a
/// trainer and N = epochs × batches per epoch.</para>
/// </remarks>
public sealed class OneCycleSchedule : LearningRateSchedule
{
    private readonly double? _maxLearningRate;

    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="totalSteps">N, the number of steps in the cycle, at least 2.</param>
    /// <param name="maxLearningRate">η_max for every group, or null for each group's initial rate.</param>
    /// <param name="pctStart">The fraction of the cycle spent increasing the rate, in (0, 1) (in (0, 0.5) with three phases).</param>
    /// <param name="annealStrategy">Cosine or linear annealing.</param>
    /// <param name="divFactor">div: η_i = η_max/div, positive.</param>
    /// <param name="finalDivFactor">final_div: η_min = η_i/final_div, positive.</param>
    /// <param name="threePhase">Use the third phase (anneal back to η_i before the final descent), as fast.ai's schedule.</param>
    /// <param name="cycleMomentum">Also cycle the optimizer's momentum between <paramref name="baseMomentum"/> and
    /// <paramref name="maxMomentum"/> (the optimizer needs one: see <see cref="Optimizer.ScheduledMomentum"/>).</param>
    /// <param name="baseMomentum">m_min, in [0, <paramref name="maxMomentum"/>].</param>
    /// <param name="maxMomentum">m_max, in [<paramref name="baseMomentum"/>, 1).</param>
    /// <exception cref="ArgumentException">A value is out of range, the optimizer already has a schedule, or momentum cycling was
    /// asked of an optimizer without momentum.</exception>
    public OneCycleSchedule(Optimizer optimizer, long totalSteps, double? maxLearningRate = null, double pctStart = 0.3,
        AnnealStrategy annealStrategy = AnnealStrategy.Cos, double divFactor = 25, double finalDivFactor = 1e4, bool threePhase = false,
        bool cycleMomentum = false, double baseMomentum = 0.85, double maxMomentum = 0.95)
        : base(optimizer)
    {
        if (cycleMomentum)
        {
            if (double.IsNaN(optimizer.ScheduledMomentum))
                throw new ArgumentException(
                    $"OneCycle: the {optimizer.Kind} optimizer has no momentum to cycle; give it a momentum (or β₁) or pass cycleMomentum: false.", nameof(cycleMomentum));
            if (!(baseMomentum >= 0 && baseMomentum <= maxMomentum && maxMomentum < 1))
                throw new ArgumentException(
                    $"OneCycle: the momenta must satisfy 0 ≤ base ≤ max < 1, got base {Format(baseMomentum)} and max {Format(maxMomentum)}.", nameof(baseMomentum));
        }
        CycleMomentum = cycleMomentum;
        BaseMomentum = baseMomentum;
        MaxMomentum = maxMomentum;
        if (totalSteps < 2)
            throw new ArgumentException($"OneCycle: the total number of steps must be at least 2, got {totalSteps}.", nameof(totalSteps));
        if (maxLearningRate is { } max) CheckPositive(max, nameof(maxLearningRate), "maximum learning rate");
        double pctLimit = threePhase ? 0.5 : 1;
        if (!(pctStart > 0 && pctStart < pctLimit))
            throw new ArgumentException($"OneCycle: pctStart must be in (0, {Format(pctLimit)}), got {Format(pctStart)}.", nameof(pctStart));
        if (!Enum.IsDefined(annealStrategy))
            throw new ArgumentException($"OneCycle: unknown anneal strategy {(int)annealStrategy}.", nameof(annealStrategy));
        CheckPositive(divFactor, nameof(divFactor), "div factor");
        CheckPositive(finalDivFactor, nameof(finalDivFactor), "final div factor");
        TotalSteps = totalSteps;
        _maxLearningRate = maxLearningRate;
        PctStart = pctStart;
        AnnealStrategy = annealStrategy;
        DivFactor = divFactor;
        FinalDivFactor = finalDivFactor;
        ThreePhase = threePhase;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "OneCycle";

    /// <summary>N.</summary>
    public long TotalSteps { get; }

    /// <summary>The fraction of the cycle spent increasing the rate.</summary>
    public double PctStart { get; }

    /// <summary>Cosine or linear.</summary>
    public AnnealStrategy AnnealStrategy { get; }

    /// <summary>div.</summary>
    public double DivFactor { get; }

    /// <summary>final_div.</summary>
    public double FinalDivFactor { get; }

    /// <summary>True with the third phase.</summary>
    public bool ThreePhase { get; }

    /// <summary>True when the schedule also cycles the optimizer's momentum.</summary>
    public bool CycleMomentum { get; }

    /// <summary>m_min.</summary>
    public double BaseMomentum { get; }

    /// <summary>m_max.</summary>
    public double MaxMomentum { get; }

    /// <summary>The momentum after <paramref name="steps"/> steps when <see cref="CycleMomentum"/> is set.</summary>
    /// <param name="steps">Steps taken, non-negative.</param>
    public double ComputeMomentum(long steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        if (steps >= TotalSteps) return MaxMomentum;
        return Anneal(steps, ThreePhase
            ? [(MaxMomentum, BaseMomentum), (BaseMomentum, MaxMomentum), (MaxMomentum, MaxMomentum)]
            : [(MaxMomentum, BaseMomentum), (BaseMomentum, MaxMomentum)]);
    }

    internal override void OnApplied()
    {
        if (CycleMomentum) Optimizer.SetScheduledMomentum(ComputeMomentum(StepCount));
    }

    /// <summary>η_max of a group: the configured maximum, or the group's initial rate.</summary>
    /// <param name="group">A group of the optimizer.</param>
    public double MaxLearningRate(ParameterGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        return _maxLearningRate ?? group.InitialLearningRate;
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The schedule was already stepped <see cref="TotalSteps"/> times.</exception>
    public override void Step()
    {
        if (StepCount >= TotalSteps)
            throw new InvalidOperationException(
                $"OneCycle: tried to step {StepCount + 1} times; the cycle has {TotalSteps} steps. Size it as epochs × batches per epoch.");
        base.Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps)
    {
        double max = MaxLearningRate(group);
        double initial = max / DivFactor;
        double min = initial / FinalDivFactor;
        // torch extrapolates the last phase past its end at step N (a negative rate for linear annealing); the cycle is over,
        // so hold the minimum instead.
        if (steps >= TotalSteps) return min;
        return Anneal(steps, ThreePhase
            ? [(initial, max), (max, initial), (initial, min)]
            : [(initial, max), (max, min)]);
    }

    /// <summary>torch's phase walk: the value at <paramref name="steps"/> between each phase's (start, end) values.</summary>
    private double Anneal(long steps, ReadOnlySpan<(double From, double To)> values)
    {
        double n = TotalSteps;
        // The phases end at these steps, in floating point as torch computes them.
        Span<double> ends = ThreePhase ? [PctStart * n - 1, 2 * PctStart * n - 2, n - 1] : [PctStart * n - 1, n - 1];
        double start = 0;
        for (int i = 0; i < ends.Length; i++)
        {
            double end = ends[i];
            if (steps <= end || i == ends.Length - 1)
            {
                var (from, to) = values[i];
                double pct = (steps - start) / (end - start);
                return AnnealStrategy == AnnealStrategy.Cos
                    ? to + (from - to) / 2.0 * (Math.Cos(Math.PI * pct) + 1)
                    : (to - from) * pct + from;
            }
            start = end;
        }
        throw new InvalidOperationException("OneCycle: unreachable.");
    }
}
