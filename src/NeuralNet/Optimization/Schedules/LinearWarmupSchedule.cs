namespace NeuralNet.Optimization.Schedules;

/// <summary>
/// Linear warm-up: the rate rises linearly from start·η₀ to η₀ over W steps, then another schedule takes over from its own step 0
/// (PyTorch's <c>SequentialLR([LinearLR(start_factor, total_iters=W), after], milestones=[W])</c>).
/// </summary>
/// <remarks>
/// <para>After t &lt; W steps η = η₀·(s + (1 − s)·t/W), η₀ each group's initial rate; at t = W the rates are set to η₀ and the
/// wrapped schedule starts at its step 0; afterwards each Step call steps it (a loss-driven one such as Bold Driver gets the
/// loss). Without a wrapped schedule the rate stays at η₀ after the warm-up (torch's LinearLR alone).</para>
/// <para>Compose by building the other schedule on the optimizer first and wrapping it:
/// <c>new LinearWarmupSchedule(new CosineAnnealingSchedule(opt, 90), warmupSteps: 10)</c>. The warm-up then owns the rates;
/// step only the warm-up. Its <see cref="LearningRateSchedule.Interval"/> is the one a trainer uses (the wrapped schedule's is
/// ignored). Default start factor as torch's LinearLR: 1/3.</para>
/// </remarks>
public sealed class LinearWarmupSchedule : LearningRateSchedule
{
    /// <summary>Creates a warm-up alone (constant η₀ afterwards) and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="warmupSteps">W, at least 1.</param>
    /// <param name="startFactor">s in (0, 1]: the first step's rate is s·η₀.</param>
    /// <exception cref="ArgumentException">A value is out of range, or the optimizer already has a schedule.</exception>
    public LinearWarmupSchedule(Optimizer optimizer, long warmupSteps, double startFactor = 1.0 / 3) : base(optimizer)
    {
        (WarmupSteps, StartFactor) = Check(warmupSteps, startFactor);
        Attach();
    }

    /// <summary>Creates a warm-up followed by <paramref name="after"/>, taking over the optimizer's rates from it.</summary>
    /// <param name="after">The schedule attached to the optimizer, run from its step 0 once the warm-up ends.</param>
    /// <param name="warmupSteps">W, at least 1.</param>
    /// <param name="startFactor">s in (0, 1]: the first step's rate is s·η₀.</param>
    /// <exception cref="ArgumentException">A value is out of range, or <paramref name="after"/> is not its optimizer's schedule or
    /// was already stepped.</exception>
    public LinearWarmupSchedule(LearningRateSchedule after, long warmupSteps, double startFactor = 1.0 / 3) : base(after)
    {
        if (after.StepCount != 0)
            throw new ArgumentException($"LinearWarmup: the {after.Kind} schedule to follow the warm-up was already stepped {after.StepCount} times.", nameof(after));
        (WarmupSteps, StartFactor) = Check(warmupSteps, startFactor);
        After = after;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => After is null ? "LinearWarmup" : $"LinearWarmup({After.Kind})";

    /// <summary>W.</summary>
    public long WarmupSteps { get; }

    /// <summary>s.</summary>
    public double StartFactor { get; }

    /// <summary>The schedule that runs after the warm-up, or null.</summary>
    public LearningRateSchedule? After { get; }

    /// <inheritdoc/>
    public override bool RequiresLoss => After?.RequiresLoss ?? false;

    /// <inheritdoc/>
    public override bool MayRequestUndo => After?.MayRequestUndo ?? false;

    /// <inheritdoc/>
    public override void Step()
    {
        ThrowIfNotAttached();
        if (RequiresLoss)
            throw new InvalidOperationException($"{Kind}: the schedule after the warm-up is driven by a measured loss; call Step(loss) instead of Step().");
        Advance(null);
    }

    /// <inheritdoc/>
    public override ScheduleDecision Step(double loss)
    {
        ThrowIfNotAttached();
        if (!double.IsFinite(loss))
            throw new ArgumentException($"{Kind}: the monitored loss must be finite, got {Format(loss)}.", nameof(loss));
        return Advance(loss);
    }

    private ScheduleDecision Advance(double? loss)
    {
        StepCount++;
        if (StepCount < WarmupSteps || After is null && StepCount == WarmupSteps)
        {
            Apply();
            return ScheduleDecision.None;
        }
        if (After is null) return ScheduleDecision.None;
        if (StepCount == WarmupSteps)
        {
            for (int gi = 0; gi < Optimizer.Groups.Count; gi++)
            {
                var group = Optimizer.Groups[gi];
                SetLearningRate(group, group.InitialLearningRate);
            }
            After.ApplyFromStart();
            return ScheduleDecision.None;
        }
        if (loss is { } l) return After.Step(l);
        After.Step();
        return ScheduleDecision.None;
    }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps) =>
        group.InitialLearningRate * (steps >= WarmupSteps ? 1 : StartFactor + (1 - StartFactor) * steps / WarmupSteps);

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, double> GetState()
    {
        var state = new Dictionary<string, double> { ["step_count"] = StepCount };
        if (After is not null)
            foreach (var (key, value) in After.GetState()) state["after." + key] = value;
        return state;
    }

    /// <inheritdoc/>
    public override void SetState(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        long steps = ReadCount(state, "step_count");
        if (After is not null)
        {
            var inner = new Dictionary<string, double>();
            foreach (var (key, value) in state)
                if (key.StartsWith("after.", StringComparison.Ordinal)) inner[key["after.".Length..]] = value;
            After.SetState(inner);
        }
        StepCount = steps;
    }

    private static (long, double) Check(long warmupSteps, double startFactor)
    {
        if (warmupSteps < 1)
            throw new ArgumentException($"LinearWarmup: the number of warm-up steps must be at least 1, got {warmupSteps}.", nameof(warmupSteps));
        if (!(startFactor > 0 && startFactor <= 1))
            throw new ArgumentException($"LinearWarmup: the start factor must be in (0, 1], got {Format(startFactor)}.", nameof(startFactor));
        return (warmupSteps, startFactor);
    }
}
