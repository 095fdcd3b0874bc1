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
/// A learning-rate schedule: an object separate from the optimizer that computes the learning rate to use next.
/// </summary>
/// <remarks>
/// <para>Closed-form schedules (<see cref="ConstantSchedule"/>, <see cref="StepDecaySchedule"/>, <see cref="ExponentialSchedule"/>)
/// are functions of the number of <see cref="Step()"/> calls. Loss-driven schedules (<see cref="BoldDriverSchedule"/>) need the
/// measured loss: call <see cref="Step(double)"/>; their <see cref="Step()"/> throws, as TorchSharp's ReduceLROnPlateau does.</para>
/// <para>A trainer applies <see cref="LearningRate"/> to the optimizer before every step and calls a Step method after every
/// epoch or iteration according to <see cref="Interval"/>.</para>
/// <para>The state (<see cref="GetState"/>/<see cref="SetState"/>) is a flat map of named numbers, saved with checkpoints.</para>
/// </remarks>
public abstract class LearningRateSchedule
{
    /// <summary>Initializes the schedule.</summary>
    /// <param name="initialLearningRate">η₀, positive and finite.</param>
    /// <exception cref="ArgumentException"><paramref name="initialLearningRate"/> is not positive and finite.</exception>
    protected LearningRateSchedule(double initialLearningRate)
    {
        CheckPositive(initialLearningRate, nameof(initialLearningRate), "initial learning rate");
        InitialLearningRate = initialLearningRate;
        LearningRate = initialLearningRate;
    }

    /// <summary>A short name for messages and checkpoints, e.g. <c>StepDecay</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>η₀.</summary>
    public double InitialLearningRate { get; }

    /// <summary>The learning rate to use for the next optimizer step.</summary>
    public double LearningRate { get; protected set; }

    /// <summary>The number of Step calls so far.</summary>
    public long StepCount { get; protected set; }

    /// <summary>When a trainer steps this schedule. Defaults to <see cref="ScheduleInterval.Epoch"/>.</summary>
    public ScheduleInterval Interval { get; init; } = ScheduleInterval.Epoch;

    /// <summary>True when the schedule needs a measured loss (<see cref="Step(double)"/>).</summary>
    public virtual bool RequiresLoss => false;

    /// <summary>Advances a closed-form schedule by one epoch or iteration.</summary>
    /// <exception cref="InvalidOperationException">The schedule is loss-driven (<see cref="RequiresLoss"/>).</exception>
    public virtual void Step()
    {
        if (RequiresLoss)
            throw new InvalidOperationException($"{Kind}: this schedule is driven by a measured loss; call Step(loss) instead of Step().");
        StepCount++;
        LearningRate = ComputeLearningRate(StepCount);
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

    /// <summary>The learning rate after <paramref name="steps"/> Step calls, for closed-form schedules.</summary>
    /// <param name="steps">The number of steps taken, non-negative.</param>
    protected virtual double ComputeLearningRate(long steps) => LearningRate;

    /// <summary>The schedule's state as named numbers (always includes <c>kind</c>-independent keys <c>learning_rate</c> and <c>step_count</c>).</summary>
    public virtual IReadOnlyDictionary<string, double> GetState() => new Dictionary<string, double>
    {
        ["learning_rate"] = LearningRate,
        ["step_count"] = StepCount,
    };

    /// <summary>Restores a state returned by <see cref="GetState"/> of a schedule of the same kind.</summary>
    /// <exception cref="ArgumentException">A key is missing or a value is out of range; the message names the schedule and the key.</exception>
    public virtual void SetState(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        double lr = Read(state, "learning_rate");
        CheckPositive(lr, nameof(state), "learning_rate");
        double steps = Read(state, "step_count");
        if (steps < 0 || steps != Math.Floor(steps) || steps > long.MaxValue / 2)
            throw new ArgumentException($"{Kind}.SetState: step_count must be a non-negative integer, got {Format(steps)}.", nameof(state));
        LearningRate = lr;
        StepCount = (long)steps;
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
