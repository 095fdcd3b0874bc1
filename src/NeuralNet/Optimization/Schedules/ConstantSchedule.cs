namespace NeuralNet.Optimization.Schedules;

/// <summary>A constant learning rate: η_t = η₀, each group's initial rate.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <exception cref="ArgumentException">The optimizer already has a schedule.</exception>
    public ConstantSchedule(Optimizer optimizer) : base(optimizer)
    {
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "Constant";

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps) => group.InitialLearningRate;
}
