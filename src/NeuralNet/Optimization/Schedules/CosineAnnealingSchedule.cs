namespace NeuralNet.Optimization.Schedules;

/// <summary>Cosine annealing from each group's initial rate η₀ down to η_min over T steps (PyTorch's CosineAnnealingLR).</summary>
/// <remarks>
/// <para>η_t = η_min + (η₀ − η_min)·(1 + cos(π·t/T))/2 after t steps, in closed form (PyTorch's <c>_get_closed_form_lr</c>; its
/// <c>step()</c> applies the same curve recursively, which agrees to rounding). Past T the curve rises again (the cosine is
/// periodic), as PyTorch's does; use <see cref="CosineAnnealingWarmRestartsSchedule"/> for restarts.</para>
/// <para>Defaults as torch: η_min = 0.</para>
/// </remarks>
public sealed class CosineAnnealingSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="maxSteps">T (torch's <c>T_max</c>), the number of steps from η₀ to η_min, at least 1.</param>
    /// <param name="minLearningRate">η_min, finite and non-negative.</param>
    /// <exception cref="ArgumentException">A value is out of range, or the optimizer already has a schedule.</exception>
    public CosineAnnealingSchedule(Optimizer optimizer, long maxSteps, double minLearningRate = 0) : base(optimizer)
    {
        if (maxSteps < 1)
            throw new ArgumentException($"CosineAnnealing: the number of steps T must be at least 1, got {maxSteps}.", nameof(maxSteps));
        if (!(double.IsFinite(minLearningRate) && minLearningRate >= 0))
            throw new ArgumentException($"CosineAnnealing: the minimum learning rate must be finite and non-negative, got {Format(minLearningRate)}.", nameof(minLearningRate));
        MaxSteps = maxSteps;
        MinLearningRate = minLearningRate;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "CosineAnnealing";

    /// <summary>T.</summary>
    public long MaxSteps { get; }

    /// <summary>η_min.</summary>
    public double MinLearningRate { get; }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps) =>
        MinLearningRate + (group.InitialLearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * steps / MaxSteps)) / 2;
}

/// <summary>Cosine annealing with warm restarts (SGDR; PyTorch's CosineAnnealingWarmRestarts, stepped without an epoch).</summary>
/// <remarks>
/// <para>The first cycle lasts T₀ steps, each next one T_mult times longer. With T_cur the steps since the last restart and T_i
/// the current cycle's length: η = η_min + (η₀ − η_min)·(1 + cos(π·T_cur/T_i))/2, η₀ each group's initial rate. At a restart
/// the rate jumps back to η₀. Defaults as torch: T_mult = 1, η_min = 0.</para>
/// </remarks>
public sealed class CosineAnnealingWarmRestartsSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="firstCycleSteps">T₀, the length of the first cycle, at least 1.</param>
    /// <param name="cycleMultiplier">T_mult, at least 1: each cycle is this many times longer than the previous one.</param>
    /// <param name="minLearningRate">η_min, finite and non-negative.</param>
    /// <exception cref="ArgumentException">A value is out of range, or the optimizer already has a schedule.</exception>
    public CosineAnnealingWarmRestartsSchedule(Optimizer optimizer, long firstCycleSteps, int cycleMultiplier = 1, double minLearningRate = 0)
        : base(optimizer)
    {
        if (firstCycleSteps < 1)
            throw new ArgumentException($"CosineAnnealingWarmRestarts: T₀ must be at least 1, got {firstCycleSteps}.", nameof(firstCycleSteps));
        if (cycleMultiplier < 1)
            throw new ArgumentException($"CosineAnnealingWarmRestarts: T_mult must be at least 1, got {cycleMultiplier}.", nameof(cycleMultiplier));
        if (!(double.IsFinite(minLearningRate) && minLearningRate >= 0))
            throw new ArgumentException($"CosineAnnealingWarmRestarts: the minimum learning rate must be finite and non-negative, got {Format(minLearningRate)}.", nameof(minLearningRate));
        FirstCycleSteps = firstCycleSteps;
        CycleMultiplier = cycleMultiplier;
        MinLearningRate = minLearningRate;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "CosineAnnealingWarmRestarts";

    /// <summary>T₀.</summary>
    public long FirstCycleSteps { get; }

    /// <summary>T_mult.</summary>
    public int CycleMultiplier { get; }

    /// <summary>η_min.</summary>
    public double MinLearningRate { get; }

    /// <summary>The position in the current cycle and the cycle's length after <paramref name="steps"/> steps.</summary>
    /// <param name="steps">Steps taken, non-negative.</param>
    public (long StepsSinceRestart, long CycleLength) CyclePosition(long steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        if (CycleMultiplier == 1) return (steps % FirstCycleSteps, FirstCycleSteps);
        // Cycles grow geometrically, so this loop runs O(log steps) times; integers keep the restarts exact.
        long cycle = FirstCycleSteps, position = steps;
        while (position >= cycle)
        {
            position -= cycle;
            cycle = checked(cycle * CycleMultiplier);
        }
        return (position, cycle);
    }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps)
    {
        var (position, cycle) = CyclePosition(steps);
        return MinLearningRate + (group.InitialLearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * position / cycle)) / 2;
    }
}
