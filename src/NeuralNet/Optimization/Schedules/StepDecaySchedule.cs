namespace NeuralNet.Optimization.Schedules;

/// <summary>Step decay: the learning rate is multiplied by γ every <see cref="StepSize"/> steps (PyTorch's StepLR).</summary>
/// <remarks>
/// <para>η_t = η₀ · γ^⌊t / k⌋ after t calls of <see cref="LearningRateSchedule.Step()"/>, η₀ each group's initial rate, computed in
/// closed form (<see cref="Math.Pow"/>), so it does not drift and is restored exactly from the step count.</para>
/// <para>k = 1, γ = 0.97 is the "×0.97 after every epoch" rule of the NumPy MLP reference.</para>
/// </remarks>
public sealed class StepDecaySchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule and attaches it to <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose rates it owns.</param>
    /// <param name="gamma">γ, in (0, 1] for a decay (values above 1 are allowed and grow the rate), finite.</param>
    /// <param name="stepSize">k ≥ 1: the number of steps between multiplications.</param>
    /// <exception cref="ArgumentException">A value is out of range, or the optimizer already has a schedule.</exception>
    public StepDecaySchedule(Optimizer optimizer, double gamma, int stepSize = 1) : base(optimizer)
    {
        CheckPositive(gamma, nameof(gamma), "gamma");
        if (stepSize < 1)
            throw new ArgumentException($"StepDecay: the step size must be at least 1, got {stepSize}.", nameof(stepSize));
        Gamma = gamma;
        StepSize = stepSize;
        Attach();
    }

    /// <inheritdoc/>
    public override string Kind => "StepDecay";

    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <summary>k.</summary>
    public int StepSize { get; }

    /// <inheritdoc/>
    protected override double ComputeLearningRate(ParameterGroup group, long steps) => group.InitialLearningRate * Math.Pow(Gamma, steps / StepSize);
}
