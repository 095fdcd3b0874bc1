using System.Globalization;
using System.Numerics;
using System.Text;
using NeuralNet.Optimization.Schedules;

namespace NeuralNet.Optimization;

/// <summary>
/// What every optimizer shares regardless of its element type: its parameter groups' learning rates, the schedule that owns
/// them, and the step count. Schedules work on this view; <see cref="Optimizer{T}"/> is the class to derive from.
/// </summary>
public abstract class Optimizer
{
    private protected Optimizer()
    {
    }

    /// <summary>A short name for messages and checkpoints, e.g. <c>Sgd</c> or <c>AdamW</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>The parameter groups' rates and decays, in order.</summary>
    public abstract IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>The schedule that writes the groups' learning rates, or null when they are set by hand.</summary>
    public LearningRateSchedule? Schedule { get; internal set; }

    /// <summary>The number of <see cref="Optimizer{T}.Step"/> calls so far (restored with the state).</summary>
    public long StepCount { get; private protected set; }

    /// <summary>The learning rate of the first group; setting it sets every group's rate to the value.</summary>
    /// <remarks>With several groups of different rates read <see cref="ParameterGroup.LearningRate"/> of each group.</remarks>
    /// <exception cref="ArgumentException">The value is negative or not finite.</exception>
    /// <exception cref="InvalidOperationException">A schedule owns the rate: change the schedule instead.</exception>
    public double LearningRate
    {
        get => Groups.Count == 0 ? double.NaN : Groups[0].LearningRate;
        set
        {
            if (Schedule is not null)
                throw new InvalidOperationException(
                    $"{Kind}: the learning rate is written by the attached {Schedule.Kind} schedule; change the schedule, not the rate.");
            ParameterGroup.CheckRate(value, nameof(value));
            for (int gi = 0; gi < Groups.Count; gi++)
            {
                var g = Groups[gi];
                g.LearningRate = value;
            }
        }
    }

    /// <summary>The momentum coefficient a schedule may cycle (<see cref="OneCycleSchedule"/>): μ of <see cref="Sgd{T}"/> and
    /// <see cref="RmsProp{T}"/>, β₁ of <see cref="Adam{T}"/> and <see cref="AdamW{T}"/>; NaN when the optimizer has none (no
    /// momentum configured, or an optimizer that does not offer it). Its current value is part of the optimizer's state.</summary>
    public virtual double ScheduledMomentum => double.NaN;

    /// <summary>Writes <see cref="ScheduledMomentum"/> on behalf of a schedule.</summary>
    internal virtual void SetScheduledMomentum(double value) =>
        throw new InvalidOperationException($"{Kind}: this optimizer has no momentum a schedule can cycle.");

    /// <summary>Formats a number for messages and descriptions, round-trippable and culture-invariant.</summary>
    private protected static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// The base of every optimizer over parameters of element type <typeparamref name="T"/>: parameter groups with their own
/// learning rate and weight decay, <see cref="ZeroGrad"/>, a multi-threaded elementwise <see cref="Step"/>, and a state
/// (named per-parameter tensors and named numbers) that checkpoints save and restore bit for bit.
/// </summary>
/// <typeparam name="T">The element type of the parameters.</typeparam>
/// <remarks>
/// <para>To write an optimizer: pass the groups (or a parameter list) to the constructor, register per-parameter state with
/// <see cref="AddState"/> in your constructor, and implement <see cref="Update"/>, the update of a contiguous range of one
/// parameter's elements. <see cref="Step"/> calls it once per parameter, or, for parameters of 32 Ki elements or more, once per
/// contiguous slice on the kernel threads at the same time; so the update must be elementwise (element k of the result depends
/// only on element k of the parameter, its gradient and its state) and must not allocate. Per-step numbers that are the same
/// for every element (bias corrections) go in <see cref="BeginStep"/>. Fixed settings are reported by
/// <see cref="WriteHyperParameters"/> (a checkpoint refuses to restore into an optimizer whose settings differ), mutable numbers
/// by <see cref="WriteStateScalars"/> / <see cref="ReadStateScalars"/>. docs/training.md has a complete example.</para>
/// <para>The optimizer does not clear gradients: call <see cref="ZeroGrad"/> (or the model's) before each backward pass.</para>
/// </remarks>
public abstract class Optimizer<T> : Optimizer where T : unmanaged, IFloatingPointIeee754<T>
{
    // Parameters with fewer elements than this are updated on the calling thread: waking a worker costs more.
    private const int ParallelMinLength = 32 * 1024;

    private readonly ParameterGroup<T>[] _groups;
    private readonly Parameter<T>[] _parameters;
    private readonly ParameterGroup<T>[] _groupOf;
    private readonly List<(string Name, NdArray<T>[] Tensors)> _state = [];
    private UpdateJob? _job;

    /// <summary>Initializes an optimizer with one group holding <paramref name="parameters"/>.</summary>
    /// <param name="parameters">The parameters to step, in a fixed order (the order of the state tensors).</param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="weightDecay">λ, finite and non-negative.</param>
    /// <exception cref="ArgumentException">A value is out of range, or a parameter is null or repeated.</exception>
    protected Optimizer(IReadOnlyList<Parameter<T>> parameters, double learningRate, double weightDecay)
        : this([new ParameterGroup<T>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], learningRate, weightDecay)
    {
    }

    /// <summary>Initializes an optimizer over parameter groups; a group without its own rate or decay takes these.</summary>
    /// <param name="groups">At least one group; no parameter may appear twice (in one group or across groups).</param>
    /// <param name="learningRate">The default η, positive and finite.</param>
    /// <param name="weightDecay">The default λ, finite and non-negative.</param>
    /// <exception cref="ArgumentException">A value is out of range, there is no group, a group belongs to another optimizer,
    /// or a parameter is repeated.</exception>
    protected Optimizer(IEnumerable<ParameterGroup<T>> groups, double learningRate, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (!(double.IsFinite(learningRate) && learningRate > 0))
            throw new ArgumentException($"{Kind}: the learning rate must be positive and finite, got {Format(learningRate)}.", nameof(learningRate));
        if (!(double.IsFinite(weightDecay) && weightDecay >= 0))
            throw new ArgumentException($"{Kind}: the weight decay must be finite and non-negative, got {Format(weightDecay)}.", nameof(weightDecay));
        _groups = [.. groups];
        if (_groups.Length == 0) throw new ArgumentException($"{Kind}: at least one parameter group is required.", nameof(groups));
        var parameters = new List<Parameter<T>>();
        var groupOf = new List<ParameterGroup<T>>();
        var seen = new HashSet<Parameter<T>>(ReferenceEqualityComparer.Instance);
        for (int g = 0; g < _groups.Length; g++)
        {
            var group = _groups[g] ?? throw new ArgumentException($"{Kind}: parameter group {g} is null.", nameof(groups));
            foreach (var p in group.Parameters)
            {
                if (!seen.Add(p))
                    throw new ArgumentException(
                        $"{Kind}: parameter {parameters.Count} ({p}) appears twice (group {g}); it would be stepped twice.", nameof(groups));
                parameters.Add(p);
                groupOf.Add(group);
            }
        }
        for (int g = 0; g < _groups.Length; g++) _groups[g].Adopt(this, g, learningRate, weightDecay);
        _parameters = [.. parameters];
        _groupOf = [.. groupOf];
        WeightDecay = weightDecay;
    }

    /// <inheritdoc/>
    public sealed override IReadOnlyList<ParameterGroup> Groups => _groups;

    /// <summary>The parameter groups, in order.</summary>
    public IReadOnlyList<ParameterGroup<T>> ParameterGroups => _groups;

    /// <summary>Every parameter this optimizer steps, group after group (the order of the state tensors).</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>λ given to the constructor: the decay of the groups that did not set their own.</summary>
    public double WeightDecay { get; }

    /// <summary>Sets every parameter's gradient to zero (deferred: see <see cref="Parameter{T}.ZeroGrad"/>).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }

    /// <summary>Updates every parameter from its gradient by the optimizer's formula. Allocates nothing.</summary>
    /// <remarks>
    /// Parameters of 32 Ki elements or more are updated in parallel over the kernel threads, each thread a contiguous range of
    /// whole 16-element blocks. The update is elementwise, so the result is the same bits for any number of threads. The
    /// update is bound by memory traffic, and after a multi-threaded backward pass part of each gradient sits in another
    /// core's cache, so splitting it pays even though each element is cheap.
    /// </remarks>
    public void Step()
    {
        StepCount++;
        BeginStep();
        for (int i = 0; i < _parameters.Length; i++)
        {
            int length = _parameters[i].Value.Length;
            if (!RunParallel(i, length)) Update(i, _groupOf[i], 0, length);
        }
    }

    /// <summary>Called once at the start of every <see cref="Step"/> (after <see cref="Optimizer.StepCount"/> was incremented),
    /// before any <see cref="Update"/>: compute here what is the same for every element, e.g. bias corrections.</summary>
    protected virtual void BeginStep()
    {
    }

    /// <summary>Updates elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) of parameter
    /// <paramref name="index"/> (an index into <see cref="Parameters"/>). Must be elementwise and allocation-free; may run on
    /// several threads at once for disjoint ranges of the same parameter.</summary>
    /// <param name="index">The parameter's index in <see cref="Parameters"/> (and in every state tensor list).</param>
    /// <param name="group">The parameter's group: its <see cref="ParameterGroup.LearningRate"/> and <see cref="ParameterGroup.WeightDecay"/>.</param>
    /// <param name="start">The first element.</param>
    /// <param name="length">The number of elements.</param>
    protected abstract void Update(int index, ParameterGroup<T> group, int start, int length);

    /// <summary>Registers a per-parameter state tensor (e.g. <c>momentum_buffer</c>, <c>exp_avg</c>): one zero tensor per parameter,
    /// shaped like it, saved and restored with the state under <paramref name="name"/>. Call it from the constructor.</summary>
    /// <param name="name">A name of lower-case letters, digits and underscores, unique within the optimizer.</param>
    /// <returns>The tensors, in <see cref="Parameters"/> order.</returns>
    /// <exception cref="ArgumentException">The name is malformed or already registered.</exception>
    protected internal NdArray<T>[] AddState(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
            throw new ArgumentException($"{Kind}: state name '{name}' must consist of lower-case letters, digits and underscores.", nameof(name));
        if (_state.Any(s => s.Name == name))
            throw new ArgumentException($"{Kind}: state '{name}' is already registered.", nameof(name));
        var tensors = Array.ConvertAll(_parameters, p => new NdArray<T>(p.Value.ShapeArray()));
        _state.Add((name, tensors));
        return tensors;
    }

    /// <summary>Clears the per-parameter state tensors (and, in derived optimizers, their per-state counters), as in a fresh
    /// optimizer; the learning rates and <see cref="Optimizer.StepCount"/> are kept. The trainer calls it after restoring
    /// parameters to an earlier snapshot (Bold Driver's undo), whose momentum no longer matches them.</summary>
    public virtual void ResetState()
    {
        foreach (var (_, tensors) in _state)
            foreach (var t in tensors) t.Clear();
    }

    /// <summary>Adds the fixed settings to <paramref name="into"/> (e.g. <c>momentum</c>, <c>beta1</c>); booleans as 0 or 1.
    /// <see cref="SetState"/> refuses a state whose settings differ. The base adds nothing.</summary>
    /// <param name="into">The map to add to.</param>
    protected virtual void WriteHyperParameters(IDictionary<string, double> into)
    {
    }

    /// <summary>Adds mutable numbers other than the step count and the rates (e.g. whether a buffer was initialized). The base
    /// adds nothing.</summary>
    /// <param name="into">The map to add to.</param>
    protected virtual void WriteStateScalars(IDictionary<string, double> into)
    {
    }

    /// <summary>Restores the numbers written by <see cref="WriteStateScalars"/>. Validate every value before changing anything and
    /// throw <see cref="ArgumentException"/> naming the key when one is missing or out of range (then the restore changes nothing).</summary>
    /// <param name="scalars">The saved numbers (all of them, including the base's).</param>
    protected virtual void ReadStateScalars(IReadOnlyDictionary<string, double> scalars)
    {
    }

    /// <summary>Reads a required number from a state map.</summary>
    /// <param name="scalars">The map.</param>
    /// <param name="key">The key.</param>
    /// <exception cref="ArgumentException">The key is missing or its value is NaN.</exception>
    protected double ReadScalar(IReadOnlyDictionary<string, double> scalars, string key)
    {
        ArgumentNullException.ThrowIfNull(scalars);
        if (!scalars.TryGetValue(key, out double value))
            throw new ArgumentException($"{Kind}.SetState: the state has no '{key}' entry.", nameof(scalars));
        if (double.IsNaN(value))
            throw new ArgumentException($"{Kind}.SetState: '{key}' is NaN.", nameof(scalars));
        return value;
    }

    /// <summary>A deep copy of the state: settings, step count, each group's rates, the derived numbers and every state tensor.</summary>
    public OptimizerState<T> GetState()
    {
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        WriteAllHyperParameters(scalars);
        scalars["step_count"] = StepCount;
        for (int g = 0; g < _groups.Length; g++)
        {
            scalars[$"group.{g}.learning_rate"] = _groups[g].LearningRate;
            scalars[$"group.{g}.initial_learning_rate"] = _groups[g].InitialLearningRate;
        }
        WriteStateScalars(scalars);
        var tensors = new Dictionary<string, IReadOnlyList<NdArray<T>>>(StringComparer.Ordinal);
        foreach (var (name, list) in _state) tensors[name] = Array.ConvertAll(list, t => t.Clone());
        return new OptimizerState<T>(Kind, scalars, tensors);
    }

    /// <summary>Restores a state returned by <see cref="GetState"/> of an optimizer built the same way (the tensors are copied).
    /// Everything is validated first; on an exception nothing has changed.</summary>
    /// <param name="state">The state.</param>
    /// <exception cref="ArgumentException">The kind or a setting differs, a number is missing or out of range, or the tensors do
    /// not match the parameters in name, number or shape; the message names the entry.</exception>
    public void SetState(OptimizerState<T> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Kind != Kind)
            throw new ArgumentException($"{Kind}.SetState: the state is of a {state.Kind} optimizer.", nameof(state));
        var scalars = state.Scalars;
        var expected = new Dictionary<string, double>(StringComparer.Ordinal);
        WriteAllHyperParameters(expected);
        foreach (var (key, value) in expected)
        {
            double saved = ReadScalar(scalars, key);
            if (saved != value)
                throw new ArgumentException($"{Kind}.SetState: the state has {key} {Format(saved)}, this optimizer {Format(value)}.", nameof(state));
        }
        double steps = ReadScalar(scalars, "step_count");
        if (steps < 0 || steps != Math.Floor(steps) || steps > long.MaxValue / 2)
            throw new ArgumentException($"{Kind}.SetState: step_count must be a non-negative integer, got {Format(steps)}.", nameof(state));
        var rates = new (double Rate, double Initial)[_groups.Length];
        for (int g = 0; g < _groups.Length; g++)
        {
            double rate = ReadScalar(scalars, $"group.{g}.learning_rate");
            double initial = ReadScalar(scalars, $"group.{g}.initial_learning_rate");
            if (!(double.IsFinite(rate) && rate >= 0))
                throw new ArgumentException($"{Kind}.SetState: group.{g}.learning_rate must be finite and non-negative, got {Format(rate)}.", nameof(state));
            if (!(double.IsFinite(initial) && initial > 0))
                throw new ArgumentException($"{Kind}.SetState: group.{g}.initial_learning_rate must be positive and finite, got {Format(initial)}.", nameof(state));
            rates[g] = (rate, initial);
        }
        foreach (var name in state.Tensors.Keys)
            if (!_state.Any(s => s.Name == name))
                throw new ArgumentException($"{Kind}.SetState: the state has tensors '{name}', which this optimizer does not keep.", nameof(state));
        foreach (var (name, tensors) in _state)
        {
            if (!state.Tensors.TryGetValue(name, out var saved))
                throw new ArgumentException($"{Kind}.SetState: the state has no '{name}' tensors.", nameof(state));
            if (saved.Count != tensors.Length)
                throw new ArgumentException($"{Kind}.SetState: expected {tensors.Length} '{name}' tensors, got {saved.Count}.", nameof(state));
            for (int i = 0; i < tensors.Length; i++)
                if (saved[i] is null || !saved[i].HasShape(tensors[i].Shape))
                    throw new ArgumentException(
                        $"{Kind}.SetState: '{name}' tensor {i} has shape {saved[i]?.ShapeString ?? "null"}, parameter {_parameters[i]} needs {tensors[i].ShapeString}.",
                        nameof(state));
        }
        ReadStateScalars(scalars);
        foreach (var (name, tensors) in _state)
        {
            var saved = state.Tensors[name];
            for (int i = 0; i < tensors.Length; i++) tensors[i].CopyFrom(saved[i]);
        }
        for (int g = 0; g < _groups.Length; g++)
        {
            _groups[g].SetLearningRateUnchecked(rates[g].Rate);
            _groups[g].SetInitialLearningRate(rates[g].Initial);
        }
        StepCount = (long)steps;
    }

    /// <summary>The kind, the settings and each group's size, initial rate and decay (the configuration, not the current rates),
    /// e.g. for comparing configurations across processes.</summary>
    public override string ToString()
    {
        var settings = new SortedDictionary<string, double>(StringComparer.Ordinal);
        WriteAllHyperParameters(settings);
        var text = new StringBuilder(Kind).Append('(');
        bool first = true;
        foreach (var (key, value) in settings)
        {
            if (!first) text.Append(", ");
            text.Append(key).Append('=').Append(Format(value));
            first = false;
        }
        for (int g = 0; g < _groups.Length; g++)
            text.Append(CultureInfo.InvariantCulture, $", group.{g}.initial_learning_rate={Format(_groups[g].InitialLearningRate)}");
        return text.Append(')').ToString();
    }

    private void WriteAllHyperParameters(IDictionary<string, double> into)
    {
        WriteHyperParameters(into);
        into["group_count"] = _groups.Length;
        for (int g = 0; g < _groups.Length; g++)
        {
            into[$"group.{g}.parameter_count"] = _groups[g].Count;
            into[$"group.{g}.weight_decay"] = _groups[g].WeightDecay;
        }
    }

    private bool RunParallel(int parameter, int length)
    {
        int parts = Kernels.KernelThreads.PartCount(length, ParallelMinLength);
        if (parts <= 1) return false;
        // Read the gradient through its property here, on this thread: a deferred ZeroGrad clears it before the split.
        _ = _parameters[parameter].Gradient;
        var job = _job ??= new UpdateJob(this);
        job.Set(parameter, length);
        Kernels.KernelThreads.Run(job, parts);
        return true;
    }

    /// <summary>One parameter's update, split into contiguous ranges of whole 16-element blocks (whole cache lines).</summary>
    private sealed class UpdateJob(Optimizer<T> owner) : Kernels.ParallelJob
    {
        private int _parameter, _length;

        public void Set(int parameter, int length) => (_parameter, _length) = (parameter, length);

        public override void Execute(int part, int parts)
        {
            (int start, int length) = Kernels.KernelThreads.PartRange(_length, part, parts, 16);
            if (length <= 0) return;
            owner.Update(_parameter, owner._groupOf[_parameter], start, length);
        }
    }
}

/// <summary>A snapshot of an optimizer's state, for checkpoints: named numbers and named per-parameter tensors.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Numbers: the settings (e.g. <c>momentum</c>, <c>beta1</c>, <c>group.{g}.weight_decay</c>, <c>group.{g}.parameter_count</c>),
/// <c>step_count</c>, <c>group.{g}.learning_rate</c> and <c>group.{g}.initial_learning_rate</c>, and what the optimizer adds
/// (e.g. Adam's <c>step</c>). Tensors: each state name (e.g. <c>exp_avg</c>) maps to one tensor per parameter, in the optimizer's
/// <see cref="Optimizer{T}.Parameters"/> order.</para>
/// </remarks>
/// <param name="Kind">The optimizer's <see cref="Optimizer.Kind"/>.</param>
/// <param name="Scalars">The named numbers.</param>
/// <param name="Tensors">The named per-parameter tensors.</param>
public sealed record OptimizerState<T>(string Kind, IReadOnlyDictionary<string, double> Scalars, IReadOnlyDictionary<string, IReadOnlyList<NdArray<T>>> Tensors)
    where T : unmanaged, IFloatingPointIeee754<T>;
