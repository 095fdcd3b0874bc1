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
    /// When false, <see cref="Backward"/> may skip computing the input gradient (the first layer of a network needs none);
    /// its returned tensor then has unspecified contents. Parameter gradients are always computed. Defaults to true.
    /// </summary>
    public bool ComputeInputGradient { get; set; } = true;

    /// <summary>The trainable parameters, in a fixed order. Empty for parameter-free modules.</summary>
    public virtual IReadOnlyList<Parameter<T>> Parameters => [];

    /// <summary>
    /// Named non-trainable state that is part of the model and saved with it (e.g. a batch normalization's running mean
    /// and variance), in a fixed order. Optimizers never step it. Empty for most modules.
    /// </summary>
    public virtual IReadOnlyList<ModuleBuffer<T>> Buffers => [];

    /// <summary>Computes the output for a batch and caches what <see cref="Backward"/> needs.</summary>
    /// <param name="input">A batch whose first dimension is the batch size.</param>
    /// <param name="training">True during training; false for inference.</param>
    /// <returns>The output batch, a buffer owned by this module.</returns>
    /// <exception cref="ArgumentException">The input's shape does not fit this module; the message names the module, the expected and the actual shape.</exception>
    public abstract NdArray<T> Forward(NdArray<T> input, bool training = false);

    /// <summary>Back-propagates the gradient of the loss with respect to the last output.</summary>
    /// <param name="outputGradient">dL/dy, of the shape the last <see cref="Forward"/> returned.</param>
    /// <returns>dL/dx, of the shape of the last input, a buffer owned by this module.</returns>
    /// <exception cref="InvalidOperationException">No forward pass has been run.</exception>
    /// <exception cref="ArgumentException">The gradient's shape differs from the last output's.</exception>
    public abstract NdArray<T> Backward(NdArray<T> outputGradient);

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
