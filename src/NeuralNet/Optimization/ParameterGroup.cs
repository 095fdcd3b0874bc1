using System.Globalization;
using System.Numerics;
using NeuralNet.Modules;

namespace NeuralNet.Optimization;

/// <summary>
/// The learning rate and weight decay of one group of parameters, as an optimizer or a schedule sees it (PyTorch's
/// <c>param_group</c> without the parameter list; <see cref="ParameterGroup{T}"/> adds the parameters).
/// </summary>
/// <remarks>
/// <para>A group left without its own rate or decay takes the optimizer's when the optimizer adopts it. A group belongs to one
/// optimizer.</para>
/// <para>The rate has one owner. Without a schedule it is whatever the constructor or <see cref="LearningRate"/> set; once a
/// <see cref="Schedules.LearningRateSchedule"/> is attached to the optimizer, the schedule writes every group's rate from the
/// group's <see cref="InitialLearningRate"/> and setting it by hand throws.</para>
/// </remarks>
public abstract class ParameterGroup
{
    private double _learningRate;
    private double _weightDecay;

    private protected ParameterGroup(double? learningRate, double? weightDecay)
    {
        if (learningRate is { } lr && !(double.IsFinite(lr) && lr > 0))
            throw new ArgumentException($"ParameterGroup: the learning rate must be positive and finite, got {Format(lr)}.", nameof(learningRate));
        if (weightDecay is { } wd && !(double.IsFinite(wd) && wd >= 0))
            throw new ArgumentException($"ParameterGroup: the weight decay must be finite and non-negative, got {Format(wd)}.", nameof(weightDecay));
        _learningRate = learningRate ?? double.NaN;
        _weightDecay = weightDecay ?? double.NaN;
        InitialLearningRate = _learningRate;
    }

    /// <summary>The optimizer that steps this group, or null before one adopts it.</summary>
    public Optimizer? Optimizer { get; private set; }

    /// <summary>The group's position in its optimizer's groups (0 before adoption).</summary>
    public int Index { get; private set; }

    /// <summary>The rate the next step uses (NaN before an optimizer adopts a group created without one).</summary>
    /// <exception cref="ArgumentException">The value is negative or not finite.</exception>
    /// <exception cref="InvalidOperationException">A schedule owns the rate (see the remarks).</exception>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (Optimizer?.Schedule is { } schedule)
                throw new InvalidOperationException(
                    $"ParameterGroup {Index}: the learning rate is written by the attached {schedule.Kind} schedule; change the schedule, not the rate.");
            CheckRate(value, nameof(value));
            _learningRate = value;
        }
    }

    /// <summary>The base rate a schedule scales (PyTorch's <c>initial_lr</c>): the group's rate when it was created or adopted.</summary>
    public double InitialLearningRate { get; private set; }

    /// <summary>λ, the group's weight decay (its meaning, L2 or decoupled, is the optimizer's).</summary>
    public double WeightDecay => _weightDecay;

    /// <summary>The number of parameters in the group.</summary>
    public abstract int Count { get; }

    internal void Adopt(Optimizer optimizer, int index, double learningRate, double weightDecay)
    {
        if (Optimizer is not null && !ReferenceEquals(Optimizer, optimizer))
            throw new ArgumentException($"ParameterGroup: the group already belongs to a {Optimizer.Kind} optimizer; create a new group for another optimizer.");
        Optimizer = optimizer;
        Index = index;
        if (double.IsNaN(_learningRate)) _learningRate = learningRate;
        if (double.IsNaN(_weightDecay)) _weightDecay = weightDecay;
        InitialLearningRate = _learningRate;
    }

    /// <summary>Writes the rate on behalf of the owning schedule or a checkpoint restore.</summary>
    internal void SetLearningRateUnchecked(double value) => _learningRate = value;

    /// <summary>Restores the base rate from a checkpoint.</summary>
    internal void SetInitialLearningRate(double value) => InitialLearningRate = value;

    internal static void CheckRate(double value, string name)
    {
        if (!(double.IsFinite(value) && value >= 0))
            throw new ArgumentException($"Optimizer: a learning rate must be finite and non-negative, got {Format(value)}.", name);
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// A group of parameters that share a learning rate and a weight decay (PyTorch's param groups), e.g. decay on the weights and
/// none on the biases: see <see cref="ParameterGroups.SplitWeightDecay{T}(Module{T}, double)"/>.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class ParameterGroup<T> : ParameterGroup where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;

    /// <summary>Creates a group.</summary>
    /// <param name="parameters">The parameters, in a fixed order (the order of the optimizer's state tensors).</param>
    /// <param name="learningRate">The group's rate, or null for the optimizer's.</param>
    /// <param name="weightDecay">The group's weight decay, or null for the optimizer's.</param>
    /// <exception cref="ArgumentException">A parameter is null, or a value is out of range.</exception>
    public ParameterGroup(IEnumerable<Parameter<T>> parameters, double? learningRate = null, double? weightDecay = null)
        : base(learningRate, weightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = [.. parameters];
        for (int i = 0; i < _parameters.Length; i++)
            if (_parameters[i] is null) throw new ArgumentException($"ParameterGroup: parameter {i} is null.", nameof(parameters));
    }

    /// <summary>The group's parameters.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <inheritdoc/>
    public override int Count => _parameters.Length;
}

/// <summary>Ready-made parameter groupings.</summary>
public static class ParameterGroups
{
    /// <summary>
    /// Two groups: the weights (parameters of rank 2 or more: Dense and Conv2D weights) with weight decay
    /// <paramref name="weightDecay"/>, and every other parameter (rank 0 or 1: biases, normalization scales and shifts) with
    /// none — the usual "no decay on biases and norm parameters" recipe. Groups that would be empty are left out.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="model">The model whose parameters are split, in model order within each group.</param>
    /// <param name="weightDecay">The decay of the weights, finite and non-negative.</param>
    /// <returns>The groups, weights first; both take the optimizer's learning rate.</returns>
    public static ParameterGroup<T>[] SplitWeightDecay<T>(Module<T> model, double weightDecay) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        return SplitWeightDecay(model.Parameters, weightDecay);
    }

    /// <summary>The same split over an explicit list of parameters.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="parameters">The parameters.</param>
    /// <param name="weightDecay">The decay of the weights, finite and non-negative.</param>
    /// <returns>The groups, weights first.</returns>
    public static ParameterGroup<T>[] SplitWeightDecay<T>(IReadOnlyList<Parameter<T>> parameters, double weightDecay)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var decayed = parameters.Where(p => p is not null && p.Value.Rank >= 2).ToArray();
        var rest = parameters.Where(p => p is null || p.Value.Rank < 2).ToArray();
        var groups = new List<ParameterGroup<T>>(2);
        if (decayed.Length > 0) groups.Add(new ParameterGroup<T>(decayed, weightDecay: weightDecay));
        if (rest.Length > 0) groups.Add(new ParameterGroup<T>(rest, weightDecay: 0));
        return [.. groups];
    }
}
