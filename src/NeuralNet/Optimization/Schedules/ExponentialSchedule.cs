namespace NeuralNet.Optimization.Schedules;

/// <summary>Exponential decay: η_t = η₀ · γ^t after t steps (PyTorch's ExponentialLR), η₀ each group's initial rate.</summary>
/// <remarks>Computed in closed form (<see cref="Math.Pow"/>). Equivalent to <see cref="StepDecaySchedule"/> with k = 1.</remarks>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="gamma">γ, positive and finite (below 1 for a decay).</param>
    /// <exception cref="ArgumentException">A value is out of range, or the optimizer already has a schedule.</exception>
    public ExponentialSchedule(Optimizer optimizer, double gamma) : base(optimizer)
    {
        CheckPositive(gamma, nameof(gamma), "gamma");
        Gamma = gamma;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "Exponential";

    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps) => group.InitialLearningRate * Math.Pow(Gamma, steps);
}
