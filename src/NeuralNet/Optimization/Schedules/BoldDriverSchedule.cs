namespace NeuralNet.Optimization.Schedules;

/// <summary>
/// The Bold Driver rule: after each measured loss, multiply the learning rate by <see cref="Increase"/> (1.05) when the loss
/// fell and by <see cref="Decrease"/> (0.5) when it rose; optionally undo the step that made it worse.
/// </summary>
/// <remarks>
/// <para>Driven by a measured loss: call <see cref="Step(double)"/> after every iteration or every epoch (<see cref="LearningRateSchedule.Interval"/>).
/// <see cref="LearningRateSchedule.Step()"/> without a loss throws <see cref="InvalidOperationException"/>.</para>
/// <para>Let L be the new loss and R the reference loss (the last accepted one). The first call records R = L and keeps η.
/// Then, for every parameter group's rate η: L &lt; R gives η ← min(η·increase, max) and R ← L (<see cref="ScheduleDecision.Improved"/>);
/// L = R keeps η (<see cref="ScheduleDecision.Unchanged"/>); L &gt; R gives η ← max(η·decrease, min) and, without undo,
/// R ← L (<see cref="ScheduleDecision.Worsened"/>); with <see cref="UndoOnIncrease"/>, R is kept because the caller restores the
/// parameters at which R was measured (<see cref="ScheduleDecision.WorsenedUndo"/>). The <see cref="Training.Trainer{T}"/> does the restore.</para>
/// </remarks>
public sealed class BoldDriverSchedule : LearningRateSchedule
{
    private double _reference = double.NaN;

    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>; the rates start at each group's initial rate.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="increase">The factor applied when the loss fell, at least 1.</param>
    /// <param name="decrease">The factor applied when the loss rose, in (0, 1].</param>
    /// <param name="undoOnIncrease">True to ask the caller to undo the step that made the loss rise.</param>
    /// <param name="minLearningRate">A floor for η, non-negative (0: none).</param>
    /// <param name="maxLearningRate">A ceiling for η (positive infinity: none).</param>
    /// <exception cref="ArgumentException">A value is out of range, or the optimizer already has a schedule.</exception>
    public BoldDriverSchedule(Optimizer optimizer, double increase = 1.05, double decrease = 0.5, bool undoOnIncrease = false,
        double minLearningRate = 0, double maxLearningRate = double.PositiveInfinity)
        : base(optimizer)
    {
        if (!double.IsFinite(increase) || increase < 1)
            throw new ArgumentException($"BoldDriver: the increase factor must be finite and at least 1, got {Format(increase)}.", nameof(increase));
        if (!double.IsFinite(decrease) || decrease <= 0 || decrease > 1)
            throw new ArgumentException($"BoldDriver: the decrease factor must be in (0, 1], got {Format(decrease)}.", nameof(decrease));
        if (!double.IsFinite(minLearningRate) || minLearningRate < 0)
            throw new ArgumentException($"BoldDriver: the minimum learning rate must be finite and non-negative, got {Format(minLearningRate)}.", nameof(minLearningRate));
        if (double.IsNaN(maxLearningRate) || maxLearningRate < minLearningRate || maxLearningRate <= 0)
            throw new ArgumentException($"BoldDriver: the maximum learning rate must be positive and at least the minimum, got {Format(maxLearningRate)}.", nameof(maxLearningRate));
        Increase = increase;
        Decrease = decrease;
        UndoOnIncrease = undoOnIncrease;
        MinLearningRate = minLearningRate;
        MaxLearningRate = maxLearningRate;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "BoldDriver";

    /// <inheritdoc/>
    public override bool RequiresLoss => true;

    /// <inheritdoc/>
    public override bool MayRequestUndo => UndoOnIncrease;

    /// <summary>The factor applied when the loss fell (1.05 by default).</summary>
    public double Increase { get; }

    /// <summary>The factor applied when the loss rose (0.5 by default).</summary>
    public double Decrease { get; }

    /// <summary>True when a rise asks the caller to undo the step that caused it.</summary>
    public bool UndoOnIncrease { get; }

    /// <summary>The floor for η.</summary>
    public double MinLearningRate { get; }

    /// <summary>The ceiling for η.</summary>
    public double MaxLearningRate { get; }

    /// <summary>The reference loss (the last accepted one), or NaN before the first step.</summary>
    public double ReferenceLoss => _reference;

    /// <summary>The number of rises so far (the number of undos when <see cref="UndoOnIncrease"/>).</summary>
    public long RiseCount { get; private set; }

    /// <inheritdoc/>
    public override ScheduleDecision Step(double loss)
    {
        ThrowIfNotAttached();
        if (!double.IsFinite(loss))
            throw new ArgumentException($"BoldDriver: the monitored loss must be finite, got {Format(loss)}.", nameof(loss));
        StepCount++;
        if (double.IsNaN(_reference))
        {
            _reference = loss;
            return ScheduleDecision.None;
        }
        if (loss < _reference)
        {
            for (int gi = 0; gi < Optimizer.Groups.Count; gi++)
            {
                var group = Optimizer.Groups[gi];
                SetLearningRate(group, Math.Min(group.LearningRate * Increase, MaxLearningRate));
            }
            _reference = loss;
            return ScheduleDecision.Improved;
        }
        if (loss == _reference)
            return ScheduleDecision.Unchanged;
        // Keep the floor above zero: Bold Driver only multiplies, so a zero rate could never recover.
        for (int gi = 0; gi < Optimizer.Groups.Count; gi++)
        {
            var group = Optimizer.Groups[gi];
            SetLearningRate(group, Math.Max(group.LearningRate * Decrease, Math.Max(MinLearningRate, double.Epsilon)));
        }
        RiseCount++;
        if (UndoOnIncrease)
            return ScheduleDecision.WorsenedUndo;
        _reference = loss;
        return ScheduleDecision.Worsened;
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, double> GetState() => new Dictionary<string, double>
    {
        ["step_count"] = StepCount,
        ["has_reference"] = double.IsNaN(_reference) ? 0 : 1,
        ["reference_loss"] = double.IsNaN(_reference) ? 0 : _reference,
        ["rise_count"] = RiseCount,
    };

    /// <inheritdoc/>
    public override void SetState(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        double has = Read(state, "has_reference");
        double reference = Read(state, "reference_loss");
        double rises = Read(state, "rise_count");
        if (has is not (0 or 1))
            throw new ArgumentException($"BoldDriver.SetState: has_reference must be 0 or 1, got {Format(has)}.", nameof(state));
        if (!double.IsFinite(reference))
            throw new ArgumentException($"BoldDriver.SetState: reference_loss must be finite, got {Format(reference)}.", nameof(state));
        if (rises < 0 || rises != Math.Floor(rises) || rises > long.MaxValue / 2)
            throw new ArgumentException($"BoldDriver.SetState: rise_count must be a non-negative integer, got {Format(rises)}.", nameof(state));
        base.SetState(state);
        _reference = has == 1 ? reference : double.NaN;
        RiseCount = (long)rises;
    }
}
