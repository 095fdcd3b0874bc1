using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>
/// The base of every layer: a <see cref="Forward"/> that caches what the backward pass needs, and a
/// <see cref="Backward"/> that returns the input gradient and adds into the parameter gradients.
/// </summary>
/// <typeparam name="T"><see cref="float"/> for training, <see cref="double"/> for gradient checks.</typeparam>
/// <remarks>
/// <para>Inputs carry the batch as their first dimension: (N, features) or (N, C, H, W).</para>
/// <para>The tensors returned by <see cref="Forward"/> and <see cref="Backward"/> are buffers owned by the module and reused
/// by the next call with the same batch size, so a training step allocates nothing after warm-up. Copy them
/// (<see cref="NdArray{T}.Clone"/>) to keep them beyond the next call.</para>
/// <para>Backward accumulates: parameter gradients are ADDED to, so call <see cref="ZeroGrad"/> before each step.</para>
/// <para>A module instance is not thread-safe: it holds the activations of its last forward pass.</para>
/// </remarks>
public abstract class Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A short human-readable name for messages, e.g. <c>Dense</c>.</summary>
    public virtual string Name
    {
        get
        {
            var n = GetType().Name;
            int tick = n.IndexOf('`');
            return tick >= 0 ? n[..tick] : n;
        }
    }

    /// <summary>
    /// When false, <see cref="Backward"/> may skip computing the input gradient (the first layer of a network needs none).
    /// Parameter gradients are always computed. Defaults to true for layers and false for a <see cref="Sequential{T}"/>.
    /// </summary>
    /// <remarks>A <see cref="Sequential{T}"/> whose flag is false returns null from <see cref="Backward"/>, so an input gradient
    /// that was never computed cannot be mistaken for one. A layer inside a Sequential has its flag managed by the chain; a
    /// layer used on its own with the flag false returns its input-gradient buffer with unspecified contents.</remarks>
    public bool ComputeInputGradient { get; set; } = true;

    /// <summary>
    /// Whether a finite input always gives a finite output (ReLU, max pooling, flatten, …). Such a layer checks its own
    /// input, so its output needs no second scan: a <see cref="Sequential{T}"/> tells the next layer so through
    /// <see cref="InputKnownFinite"/>.
    /// </summary>
    internal virtual bool PreservesFiniteness => false;

    /// <summary>
    /// Set by <see cref="Sequential{T}"/> for the duration of one <see cref="Forward"/> call when the input is the output of
    /// a layer that checked its own input and <see cref="PreservesFiniteness"/>: the layer then skips its NaN/infinity scan
    /// of the input, which could find nothing. False whenever the layer is called on its own.
    /// </summary>
    internal bool InputKnownFinite { get; set; }

    /// <summary>The trainable parameters, in a fixed order. Empty for parameter-free modules.</summary>
    public virtual IReadOnlyList<Parameter<T>> Parameters => [];

    /// <summary>
    /// Named non-trainable state that is part of the model and saved with it (e.g. a batch normalization's running mean
    /// and variance), in a fixed order. Optimizers never step it. Empty for most modules.
    /// </summary>
    public virtual IReadOnlyList<ModuleBuffer<T>> Buffers => [];

    /// <summary>The direct sub-modules with their names, in order (a <see cref="Sequential{T}"/>'s layers named "0", "1", …,
    /// as PyTorch's <c>named_children</c>). Empty for layers.</summary>
    /// <remarks>A module with children holds no state of its own: its <see cref="Parameters"/> and <see cref="Buffers"/> are
    /// its children's, and <see cref="StateDict"/> names them through the children.</remarks>
    public virtual IReadOnlyList<(string Name, Module<T> Module)> NamedChildren => [];

    /// <summary>
    /// A copy of every parameter and buffer under PyTorch's names: "weight", "bias" of a layer; "0.weight", "0.bias" of a
    /// Sequential's first layer; "2.1.weight" inside a nested Sequential; buffers (e.g. "1.running_mean") after the
    /// parameters of their module.
    /// </summary>
    /// <returns>An ordered name → tensor map; the tensors are copies, so later training does not change them.</returns>
    /// <remarks>The names are those of <c>torch.nn.Module.state_dict()</c> for the same layer structure, so weights can be
    /// exchanged with PyTorch by name (a Dense weight is (Out, In), as <c>nn.Linear</c>'s).</remarks>
    /// <exception cref="InvalidOperationException">Two entries share a name.</exception>
    public OrderedDictionary<string, NdArray<T>> StateDict()
    {
        var result = new OrderedDictionary<string, NdArray<T>>(StringComparer.Ordinal);
        foreach (var (name, tensor) in StateEntries())
        {
            if (!result.TryAdd(name, tensor.Clone()))
                throw new InvalidOperationException($"{Name}: two parameters or buffers are both named '{name}'.");
        }
        return result;
    }

    /// <summary>Copies a state dictionary (e.g. from <see cref="StateDict"/> or from PyTorch by name) into the parameters and buffers.</summary>
    /// <param name="stateDict">Name → tensor; each tensor must have exactly the shape of the entry it loads into.</param>
    /// <param name="strict">When true (the default), every entry of this module must be present and no other key may be; when
    /// false, present entries are loaded and the others are reported in the result (as PyTorch's <c>load_state_dict</c>).</param>
    /// <returns>The keys this module expected but <paramref name="stateDict"/> lacks, and the keys it has that match nothing;
    /// both empty after a strict load.</returns>
    /// <remarks>Everything is checked before anything is copied, so a failed load leaves the module unchanged.</remarks>
    /// <exception cref="ArgumentException">A tensor's shape differs from its entry's (always checked); with
    /// <paramref name="strict"/>, keys are missing or unexpected. The message names the keys and shapes.</exception>
    public StateDictLoadResult LoadStateDict(IReadOnlyDictionary<string, NdArray<T>> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var entries = StateEntries();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var shapeErrors = new List<string>();
        foreach (var (name, tensor) in entries)
        {
            expected.Add(name);
            if (!stateDict.TryGetValue(name, out var value) || value is null) missing.Add(name);
            else if (!value.HasShape(tensor.Shape)) shapeErrors.Add($"'{name}': expected {tensor.ShapeString}, got {value.ShapeString}");
        }
        var unexpected = stateDict.Keys.Where(k => !expected.Contains(k)).ToList();
        if (shapeErrors.Count > 0)
            throw new ArgumentException($"{Name}.LoadStateDict: shape mismatch for {string.Join("; ", shapeErrors)}.", nameof(stateDict));
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new ArgumentException(
                $"{Name}.LoadStateDict (strict): missing keys [{string.Join(", ", missing)}], unexpected keys [{string.Join(", ", unexpected)}]. " +
                "Pass strict: false to load the matching entries and get these lists back.", nameof(stateDict));
        foreach (var (name, tensor) in entries)
            if (stateDict.TryGetValue(name, out var value) && value is not null) tensor.CopyFrom(value);
        return new StateDictLoadResult(missing, unexpected);
    }

    /// <summary>Every parameter and buffer with its dotted name, parameters of a module before its buffers, children after.</summary>
    internal List<(string Name, NdArray<T> Tensor)> StateEntries()
    {
        var result = new List<(string, NdArray<T>)>();
        CollectStateEntries("", result);
        return result;
    }

    private void CollectStateEntries(string prefix, List<(string, NdArray<T>)> result)
    {
        var children = NamedChildren;
        if (children.Count > 0)
        {
            // A container's Parameters (and Buffers) gather its children's, which are named through the children.
            foreach (var (name, child) in children) child.CollectStateEntries(prefix + name + ".", result);
            return;
        }
        foreach (var p in Parameters) result.Add((prefix + p.Name, p.Value));
        foreach (var b in Buffers) result.Add((prefix + b.Name, b.Value));
    }

    /// <summary>Computes the output for a batch and caches what <see cref="Backward"/> needs.</summary>
    /// <param name="input">A batch whose first dimension is the batch size.</param>
    /// <param name="training">True during training; false for inference.</param>
    /// <returns>The output batch, a buffer owned by this module.</returns>
    /// <exception cref="ArgumentException">The input's shape does not fit this module; the message names the module, the expected and the actual shape.</exception>
    public abstract NdArray<T> Forward(NdArray<T> input, bool training = false);

    /// <summary>Back-propagates the gradient of the loss with respect to the last output.</summary>
    /// <param name="outputGradient">dL/dy, of the shape the last <see cref="Forward"/> returned.</param>
    /// <returns>dL/dx, of the shape of the last input, a buffer owned by this module; null from a module that did not compute
    /// it (a <see cref="Sequential{T}"/> with <see cref="ComputeInputGradient"/> false). Layers always return a tensor.</returns>
    /// <exception cref="InvalidOperationException">No forward pass has been run.</exception>
    /// <exception cref="ArgumentException">The gradient's shape differs from the last output's.</exception>
    public abstract NdArray<T>? Backward(NdArray<T> outputGradient);

    /// <summary>
    /// The per-example output shape (without the batch dimension) for a per-example input shape, validating it.
    /// </summary>
    /// <param name="inputShape">The per-example input shape, e.g. <c>[784]</c> or <c>[1, 28, 28]</c>.</param>
    /// <exception cref="ArgumentException">The shape does not fit; the message names the module and both shapes.</exception>
    public abstract int[] GetOutputShape(ReadOnlySpan<int> inputShape);

    /// <summary>Sets every parameter gradient to zero.</summary>
    public void ZeroGrad()
    {
        // Indexed rather than foreach: enumerating an IReadOnlyList allocates, and this runs every training step.
        var parameters = Parameters;
        for (int i = 0; i < parameters.Count; i++) parameters[i].ZeroGrad();
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>A named, non-trainable tensor of a module's state (see <see cref="Module{T}.Buffers"/>).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <param name="Name">A short name unique within its module, as PyTorch names it (e.g. <c>running_mean</c>).</param>
/// <param name="Value">The tensor itself, not a copy: loading a model writes into it.</param>
public sealed record ModuleBuffer<T>(string Name, NdArray<T> Value) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>What <see cref="Module{T}.LoadStateDict"/> did not load (PyTorch's <c>_IncompatibleKeys</c>).</summary>
/// <param name="MissingKeys">Entries of the module that the state dictionary lacks (left unchanged).</param>
/// <param name="UnexpectedKeys">Keys of the state dictionary that match no entry of the module (ignored).</param>
public sealed record StateDictLoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys)
{
    /// <summary>True when every entry was loaded and no key was left over.</summary>
    public bool IsExactMatch => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0;
}
