namespace NeuralNet.Optimization.Schedules;

/// <summary>A constant learning rate: η_t = η₀.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">η₀, positive and finite.</param>
    public ConstantSchedule(double learningRate) : base(learningRate)
    {
    }

    /// <inheritdoc/>
    public override string Kind => "Constant";

    /// <inheritdoc/>
    protected override double ComputeLearningRate(long steps) => InitialLearningRate;
}
