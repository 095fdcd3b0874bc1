using System.Numerics;

namespace NeuralNet.Training;

/// <summary>
/// A <see cref="TrainingCallback{T}"/> whose own state <see cref="TrainingCheckpoint"/> saves and restores, so that a run
/// resumed from a checkpoint behaves like one that was never interrupted (<see cref="EarlyStopping{T}"/>: its counters,
/// best value and best weights).
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// A checkpoint stores the state of the callback at each position of <see cref="Trainer{T}.Callbacks"/> that implements this
/// interface; restoring gives each such callback the state saved at its position, when there is one of the same
/// <see cref="StateKind"/>. Put such callbacks before the <see cref="CheckpointCallback{T}"/>, so that the checkpoint taken
/// at an epoch's end holds their state after that epoch.
/// </remarks>
public interface ICheckpointedCallback<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A short name for the kind of state (e.g. <c>early_stopping</c>), stored with it and checked on restore.</summary>
    string StateKind { get; }

    /// <summary>A copy of the callback's current state.</summary>
    CallbackState<T> GetState();

    /// <summary>Restores a state returned by <see cref="GetState"/> (of this instance or of one configured the same way).</summary>
    /// <param name="trainer">The trainer the callback belongs to, for states that hold tensors shaped like its parameters.</param>
    /// <param name="state">The state.</param>
    /// <exception cref="ArgumentException">The state does not fit this callback or trainer; the callback is then unchanged.</exception>
    void SetState(Trainer<T> trainer, CallbackState<T> state);
}

/// <summary>The saved state of an <see cref="ICheckpointedCallback{T}"/>: named numbers and a list of tensors.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <param name="Values">Named numbers (stored as JSON; NaN and infinities are kept).</param>
/// <param name="Tensors">Tensors, in an order the callback defines.</param>
public sealed record CallbackState<T>(IReadOnlyDictionary<string, double> Values, IReadOnlyList<NdArray<T>> Tensors)
    where T : unmanaged, IFloatingPointIeee754<T>;
