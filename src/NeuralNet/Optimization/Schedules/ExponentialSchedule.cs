namespace NeuralNet.Optimization.Schedules;

/// <summary>Exponential decay: η_t = η₀ · γ^t after t steps (PyTorch's ExponentialLR).</summary>
/// <remarks>Computed in closed form (<see cref="Math.Pow"/>). Equivalent to <see cref="StepDecaySchedule"/> with k = 1.</remarks>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">η₀, positive and finite.</param>
    /// <param name="gamma">γ, positive and finite (below 1 for a decay).</param>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public ExponentialSchedule(double initialLearningRate, double gamma) : base(initialLearningRate)
    {
        CheckPositive(gamma, nameof(gamma), "gamma");
        Gamma = gamma;
    }

    /// <inheritdoc/>
    public override string Kind => "Exponential";

    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(long steps) => InitialLearningRate * Math.Pow(Gamma, steps);
}
