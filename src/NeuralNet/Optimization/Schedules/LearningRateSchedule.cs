using System.Globalization;

namespace NeuralNet.Optimization.Schedules;

/// <summary>When a trainer steps a schedule.</summary>
public enum ScheduleInterval
{
    /// <summary>Once after every epoch.</summary>
    Epoch,

    /// <summary>Once after every iteration (optimizer step).</summary>
    Iteration,
}

/// <summary>
/// A learning-rate schedule: attached to one optimizer, it owns that optimizer's learning rates and writes each parameter
/// group's rate from the group's <see cref="ParameterGroup.InitialLearningRate"/> (PyTorch's <c>lr_scheduler</c>).
/// </summary>
/// <remarks>
/// <para>Constructing a schedule attaches it to the optimizer (<see cref="Optimization.Optimizer.Schedule"/>) and writes the
/// rate of step 0, as a PyTorch scheduler does in its constructor. From then on only the schedule changes the rates: setting
/// <see cref="Optimization.Optimizer.LearningRate"/> or a group's rate throws. An optimizer has at most one schedule; a
/// composing schedule (<see cref="LinearWarmupSchedule"/>) takes over the one it wraps.</para>
/// <para>Closed-form schedules (<see cref="ConstantSchedule"/>, <see cref="StepDecaySchedule"/>, <see cref="ExponentialSchedule"/>,
/// <see cref="CosineAnnealingSchedule"/>, <see cref="CosineAnnealingWarmRestartsSchedule"/>, <see cref="OneCycleSchedule"/>) are
/// functions of the number of <see cref="Step()"/> calls and of the group's initial rate. Loss-driven schedules
/// (<see cref="BoldDriverSchedule"/>) need the measured loss: call <see cref="Step(double)"/>; their <see cref="Step()"/> throws,
/// as TorchSharp's ReduceLROnPlateau does.</para>
/// <para>A trainer calls a Step method after every epoch or iteration according to <see cref="Interval"/>. The state
/// (<see cref="GetState"/>/<see cref="SetState"/>) is a flat map of named numbers, saved with checkpoints; the rates themselves
/// are part of the optimizer's state and saved once, there.</para>
/// <para>To write a schedule: derive, pass the optimizer to the base constructor, validate your arguments, call
/// <see cref="Attach"/> as the last statement of your constructor, and override <see cref="ComputeLearningRate"/> (closed form) or
/// <see cref="Step(double)"/> (loss-driven, writing rates with <see cref="SetLearningRate"/>).</para>
/// </remarks>
public abstract class LearningRateSchedule
{
    private readonly LearningRateSchedule? _wrapped;
    private bool _attached;

    /// <summary>Initializes a schedule for <paramref name="optimizer"/>; the derived constructor must end with <see cref="Attach"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates the schedule will own.</param>
    /// <exception cref="ArgumentException">The optimizer already has a schedule.</exception>
    protected LearningRateSchedule(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (optimizer.Schedule is { } existing)
            throw new ArgumentException(
                $"{Kind}: the {optimizer.Kind} optimizer already has a {existing.Kind} schedule; an optimizer's rates have one owner. " +
                "To compose schedules wrap the first one (e.g. LinearWarmupSchedule).", nameof(optimizer));
        Optimizer = optimizer;
    }

    /// <summary>Initializes a schedule that wraps and takes over <paramref name="wrapped"/>, the schedule attached to the optimizer.</summary>
    /// <param name="wrapped">The attached schedule to compose with.</param>
    /// <exception cref="ArgumentException"><paramref name="wrapped"/> is not the schedule its optimizer uses (it was wrapped already).</exception>
    protected LearningRateSchedule(LearningRateSchedule wrapped)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (!ReferenceEquals(wrapped.Optimizer.Schedule, wrapped))
            throw new ArgumentException($"{Kind}: the {wrapped.Kind} schedule is not the one its optimizer uses (already wrapped?).", nameof(wrapped));
        Optimizer = wrapped.Optimizer;
        _wrapped = wrapped;
    }

    /// <summary>The optimizer whose rates this schedule writes.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>A short name for messages and checkpoints, e.g. <c>StepDecay</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>The current rate of the optimizer's first group (the rate of the next optimizer step).</summary>
    public double LearningRate => Optimizer.LearningRate;

    /// <summary>The number of Step calls so far.</summary>
    public long StepCount { get; protected set; }

    /// <summary>When a trainer steps this schedule. Defaults to <see cref="ScheduleInterval.Epoch"/>.</summary>
    public ScheduleInterval Interval { get; init; } = ScheduleInterval.Epoch;

    /// <summary>True when the schedule needs a measured loss (<see cref="Step(double)"/>).</summary>
    public virtual bool RequiresLoss => false;

    /// <summary>True when <see cref="Step(double)"/> may answer <see cref="ScheduleDecision.WorsenedUndo"/>, so the trainer keeps
    /// a snapshot of the parameters to go back to.</summary>
    public virtual bool MayRequestUndo => false;

    /// <summary>Attaches the schedule to its optimizer (taking over a wrapped schedule) and writes the rates of step 0. Call it
    /// as the last statement of a derived constructor, after validating the arguments.</summary>
    /// <exception cref="InvalidOperationException">Called twice, or another schedule was attached in the meantime.</exception>
    protected void Attach()
    {
        if (_attached) throw new InvalidOperationException($"{Kind}: the schedule is already attached.");
        if (!ReferenceEquals(Optimizer.Schedule, _wrapped))
            throw new InvalidOperationException($"{Kind}: the {Optimizer.Kind} optimizer got a {Optimizer.Schedule?.Kind} schedule in the meantime.");
        Optimizer.Schedule = this;
        _attached = true;
        Apply();
    }

    /// <summary>Advances a closed-form schedule by one epoch or iteration and writes the new rates.</summary>
    /// <exception cref="InvalidOperationException">The schedule is loss-driven (<see cref="RequiresLoss"/>), or not attached.</exception>
    public virtual void Step()
    {
        ThrowIfNotAttached();
        if (RequiresLoss)
            throw new InvalidOperationException($"{Kind}: this schedule is driven by a measured loss; call Step(loss) instead of Step().");
        StepCount++;
        Apply();
    }

    /// <summary>Advances the schedule given the loss measured since the last step. Closed-form schedules ignore the loss.</summary>
    /// <param name="loss">The monitored loss (training or validation), finite.</param>
    /// <returns>What a loss-driven schedule decided; <see cref="ScheduleDecision.None"/> for closed-form schedules.</returns>
    /// <exception cref="ArgumentException"><paramref name="loss"/> is NaN or infinite.</exception>
    public virtual ScheduleDecision Step(double loss)
    {
        if (!double.IsFinite(loss))
            throw new ArgumentException($"{Kind}: the monitored loss must be finite, got {Format(loss)}.", nameof(loss));
        Step();
        return ScheduleDecision.None;
    }

    /// <summary>The rate of <paramref name="group"/> after <paramref name="steps"/> Step calls, for closed-form schedules; the
    /// base returns the group's current rate (no change).</summary>
    /// <param name="group">The group; its <see cref="ParameterGroup.InitialLearningRate"/> is the base rate.</param>
    /// <param name="steps">The number of steps taken, non-negative.</param>
    protected virtual double ComputeLearningRate(ParameterGroup group, long steps) => group.LearningRate;

    /// <summary>Restarts a wrapped schedule at its step 0 and writes its step-0 rates (a composing schedule hands over).</summary>
    internal void ApplyFromStart()
    {
        StepCount = 0;
        Apply();
    }

    /// <summary>Writes <see cref="ComputeLearningRate"/> of the current <see cref="StepCount"/> into every group.</summary>
    protected void Apply()
    {
        for (int gi = 0; gi < Optimizer.Groups.Count; gi++)
        {
            var group = Optimizer.Groups[gi];
            SetLearningRate(group, ComputeLearningRate(group, StepCount));
        }
        OnApplied();
    }

    /// <summary>Called after the rates of the current step were written (OneCycle writes its momentum here).</summary>
    internal virtual void OnApplied()
    {
    }

    /// <summary>Writes a group's rate (the schedule owns it).</summary>
    /// <param name="group">A group of <see cref="Optimizer"/>.</param>
    /// <param name="rate">The rate, finite and non-negative.</param>
    /// <exception cref="ArgumentException">The group is another optimizer's, or the rate is negative or not finite.</exception>
    protected void SetLearningRate(ParameterGroup group, double rate)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (!ReferenceEquals(group.Optimizer, Optimizer))
            throw new ArgumentException($"{Kind}: the group belongs to another optimizer.", nameof(group));
        if (!(double.IsFinite(rate) && rate >= 0))
            throw new ArgumentException($"{Kind}: computed learning rate {Format(rate)} for group {group.Index} is not finite and non-negative.", nameof(rate));
        group.SetLearningRateUnchecked(rate);
    }

    /// <summary>Throws when the derived constructor did not call <see cref="Attach"/>.</summary>
    /// <exception cref="InvalidOperationException">The schedule is not attached.</exception>
    protected void ThrowIfNotAttached()
    {
        if (!_attached)
            throw new InvalidOperationException($"{Kind}: the schedule is not attached to its optimizer; a derived constructor must end with Attach().");
    }

    /// <summary>The schedule's state as named numbers (always includes <c>step_count</c>; the rates are the optimizer's state).</summary>
    public virtual IReadOnlyDictionary<string, double> GetState() => new Dictionary<string, double>
    {
        ["step_count"] = StepCount,
    };

    /// <summary>Restores a state returned by <see cref="GetState"/> of a schedule of the same kind. The rates are not changed:
    /// restore them with the optimizer's state.</summary>
    /// <exception cref="ArgumentException">A key is missing or a value is out of range; the message names the schedule and the key.</exception>
    public virtual void SetState(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        StepCount = ReadCount(state, "step_count");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}(lr={Format(LearningRate)}, steps={StepCount})";

    /// <summary>Reads a required key from a state map.</summary>
    /// <exception cref="ArgumentException">The key is missing or its value is NaN.</exception>
    protected double Read(IReadOnlyDictionary<string, double> state, string key)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!state.TryGetValue(key, out double value))
            throw new ArgumentException($"{Kind}.SetState: the state has no '{key}' entry.", nameof(state));
        if (double.IsNaN(value))
            throw new ArgumentException($"{Kind}.SetState: '{key}' is NaN.", nameof(state));
        return value;
    }

    /// <summary>Reads a required non-negative integer from a state map.</summary>
    /// <exception cref="ArgumentException">The key is missing or its value is not a non-negative integer.</exception>
    protected long ReadCount(IReadOnlyDictionary<string, double> state, string key)
    {
        double value = Read(state, key);
        if (value < 0 || value != Math.Floor(value) || value > long.MaxValue / 2)
            throw new ArgumentException($"{Kind}.SetState: {key} must be a non-negative integer, got {Format(value)}.", nameof(state));
        return (long)value;
    }

    /// <summary>Throws when <paramref name="value"/> is not positive and finite.</summary>
    protected static void CheckPositive(double value, string paramName, string what)
    {
        if (!double.IsFinite(value) || value <= 0)
            throw new ArgumentException($"Schedule: the {what} must be positive and finite, got {Format(value)}.", paramName);
    }

    /// <summary>Formats a number for messages, round-trippable and culture-invariant.</summary>
    protected static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>What a loss-driven schedule decided at a step.</summary>
public enum ScheduleDecision
{
    /// <summary>Closed-form schedule, or the first measurement of a loss-driven one (nothing to compare with).</summary>
    None,

    /// <summary>The loss fell; the learning rate was increased.</summary>
    Improved,

    /// <summary>The loss was unchanged; the learning rate was kept.</summary>
    Unchanged,

    /// <summary>The loss rose; the learning rate was decreased and the step that made it worse should be kept.</summary>
    Worsened,

    /// <summary>The loss rose; the learning rate was decreased and the step that made it worse should be undone
    /// (restore the parameters at which the reference loss was measured).</summary>
    WorsenedUndo,
}
