namespace NeuralNet.Optimization.Schedules;

/// <summary>Step decay: the learning rate is multiplied by γ every <see cref="StepSize"/> steps.</summary>
/// <remarks>
/// <para>η_t = η₀ · γ^⌊t / k⌋ after t calls of <see cref="LearningRateSchedule.Step()"/>, computed in closed form
/// (<see cref="Math.Pow"/>), so it does not drift and is restored exactly from the step count.</para>
/// <para>k = 1, γ = 0.97 is the "×0.97 after every epoch" rule of the NumPy MLP reference.</para>
/// </remarks>
public sealed class StepDecaySchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">η₀, positive and finite.</param>
    /// <param name="gamma">γ, in (0, 1] for a decay (values above 1 are allowed and grow the rate), finite.</param>
    /// <param name="stepSize">k ≥ 1: the number of steps between multiplications.</param>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public StepDecaySchedule(double initialLearningRate, double gamma, int stepSize = 1) : base(initialLearningRate)
    {
        CheckPositive(gamma, nameof(gamma), "gamma");
        if (stepSize < 1)
            throw new ArgumentException($"StepDecay: the step size must be at least 1, got {stepSize}.", nameof(stepSize));
        Gamma = gamma;
        StepSize = stepSize;
    }

    /// <inheritdoc/>
    public override string Kind => "StepDecay";

    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <summary>k.</summary>
    public int StepSize { get; }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(long steps) => InitialLearningRate * Math.Pow(Gamma, steps / StepSize);
}
